import type { Dispatcher } from 'undici';
import { parseStrictJsonObject } from '../shared/strict-json.js';
import { isProblemJson, MAX_PROBLEM_BYTES } from './ip-mismatch.js';

type Controller = Dispatcher.DispatchController;
type Headers = Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2];

/** A verifier's 401 or 403 problem+json, as the interceptor saw it go by. */
export interface ObservedRefusal {
  status: number;
  /** The problem's `reason`, as sent (not checked against the list). */
  reason: unknown;
  /** The answer's `Date` header. */
  date: string | undefined;
  /** When its headers arrived, by the clock the observer was given. */
  receivedAt: number;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Passes every event through untouched and watches for a 401 or 403 problem+json: it keeps a
 * copy of at most `MAX_PROBLEM_BYTES` of such a response's body, and when the body ends, tells
 * `onRefusal` its reason — the interceptor then drops a refused address (`ip-mismatch`) or
 * learns the server's time (`expired`, `not-yet-valid`) for the next request.
 */
export class RefusalObserver implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #onRefusal: (refusal: ObservedRefusal) => void;
  readonly #now: () => number;
  #chunks: Uint8Array[] | undefined;
  #size = 0;
  #refusal: Omit<ObservedRefusal, 'reason'> | undefined;

  constructor(handler: Dispatcher.DispatchHandler, onRefusal: (refusal: ObservedRefusal) => void, now: () => number) {
    this.#handler = handler;
    this.#onRefusal = onRefusal;
    this.#now = now;
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
    const watched = (statusCode === 401 || statusCode === 403) && isProblemJson(firstValue(headers['content-type']));
    this.#refusal = watched ? { status: statusCode, date: firstValue(headers.date), receivedAt: this.#now() } : undefined;
    this.#chunks = watched ? [] : undefined;
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
    if (this.#chunks !== undefined && this.#refusal !== undefined) {
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(this.#chunks));
      } catch {
        text = undefined;
      }
      const reason = text === undefined ? undefined : parseStrictJsonObject(text)?.reason;
      if (reason !== undefined) this.#onRefusal({ ...this.#refusal, reason });
    }
    this.#chunks = undefined;
    this.#refusal = undefined;
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#chunks = undefined;
    this.#refusal = undefined;
    this.#handler.onResponseError?.(controller, error);
  }
}
