import type { Dispatcher } from 'undici';
import { isIpMismatchProblem, MAX_PROBLEM_BYTES, mayBeIpMismatch } from './ip-mismatch.js';

type Controller = Dispatcher.DispatchController;
type Headers = Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2];

/**
 * Passes every event through untouched and watches for a 403 `ip-mismatch` problem: it
 * keeps a copy of at most `MAX_PROBLEM_BYTES` of such a response's body, and when the body
 * ends, says so — the address source then drops the address that was refused.
 */
export class IpMismatchObserver implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #onMismatch: () => void;
  #chunks: Uint8Array[] | undefined;
  #size = 0;

  constructor(handler: Dispatcher.DispatchHandler, onMismatch: () => void) {
    this.#handler = handler;
    this.#onMismatch = onMismatch;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    socket: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[3],
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    const type = headers['content-type'];
    this.#chunks = mayBeIpMismatch(statusCode, Array.isArray(type) ? type[0] : type) ? [] : undefined;
    this.#size = 0;
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#chunks !== undefined) {
      this.#size += chunk.byteLength;
      if (this.#size > MAX_PROBLEM_BYTES) this.#chunks = undefined;
      else this.#chunks.push(Uint8Array.prototype.slice.call(chunk));
    }
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    if (this.#chunks !== undefined) {
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(this.#chunks));
      } catch {
        text = undefined;
      }
      this.#chunks = undefined;
      if (isIpMismatchProblem(text)) this.#onMismatch();
    }
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#chunks = undefined;
    this.#handler.onResponseError?.(controller, error);
  }
}
