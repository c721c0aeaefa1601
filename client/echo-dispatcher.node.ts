import { Dispatcher, fetch as undiciFetch } from 'undici';
import type { FetchLike, ResponseLike } from './fetch-like.js';

/** A Dispatcher that is nothing but a dispatch function: the part of a composed chain below us. */
class InnerDispatcher extends Dispatcher {
  readonly #dispatch: Dispatcher.Dispatch;

  constructor(dispatch: Dispatcher.Dispatch) {
    super();
    this.#dispatch = dispatch;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#dispatch(options, handler);
  }
}

/**
 * A fetch that sends through the dispatch an interceptor was given, so the echo request
 * leaves the way stamped requests do (same agent, same local address, same TLS options) —
 * and does not pass through the interceptor itself.
 */
export function fetchThrough(dispatch: Dispatcher.Dispatch): FetchLike<ResponseLike> {
  const dispatcher = new InnerDispatcher(dispatch);
  return (input, init) => undiciFetch(input as string, { ...(init as object), dispatcher }) as unknown as Promise<ResponseLike>;
}
