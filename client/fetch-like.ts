/**
 * What the SDK reads of a response: the status, one header, and a clone's body stream. Kept
 * structural so that undici's `fetch` (whose Response is not the DOM's type) fits as well as
 * the global one.
 */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: unknown;
  clone(): ResponseLike;
}

/**
 * What the SDK needs of a fetch: the global one, undici's, or a wrapper that adds a dispatcher.
 * It is called with `(input: string | URL | Request, init: RequestInit)`; the parameters are
 * typed loosely because undici's own Request and RequestInit types are not the DOM's, and
 * `fetch: (input, init) => undici.fetch(input, { ...init, dispatcher })` should just compile.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loose on purpose, see above
export type FetchLike<R extends ResponseLike = Response> = (input: any, init?: any) => Promise<R>;

export function resolveFetch<R extends ResponseLike = Response>(name: string, value: unknown): FetchLike<R> {
  if (value !== undefined) {
    if (typeof value !== 'function') throw new TypeError(`${name} must be a fetch function`);
    return value as FetchLike<R>;
  }
  if (typeof globalThis.fetch !== 'function') throw new TypeError(`${name} is required where there is no global fetch`);
  // Looked up per call, not captured, so a fetch installed later (or a test's mock) is the one used.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- FetchLike's loose parameters, passed on as they came
  const globalFetch: FetchLike = (input, init) => globalThis.fetch(input, init);
  return globalFetch as unknown as FetchLike<R>;
}

/** The body of a ResponseLike as the web stream every fetch implementation gives. */
export function bodyStream(response: ResponseLike): ReadableStream<Uint8Array> | null {
  return (response.body ?? null) as ReadableStream<Uint8Array> | null;
}
