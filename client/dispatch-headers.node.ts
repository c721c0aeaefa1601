import type { Dispatcher } from 'undici';

type HeaderValue = string | string[] | undefined;

function isIterable(value: object): value is Iterable<unknown> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * The header entries of a dispatch, whatever shape undici was given (an object, a flat
 * `[name, value, …]` array, or an iterable of `[name, value]` pairs — the three shapes undici's
 * own dns interceptor normalizes), as `[name, value]` pairs. Nothing is copied out of a value.
 */
export function headerEntries(headers: Dispatcher.DispatchOptions['headers']): [string, HeaderValue][] {
  if (headers === null || headers === undefined) return [];
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return (headers as unknown as [string, HeaderValue][]).map(([n, v]) => [n, v]);
    const pairs: [string, HeaderValue][] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i] as string, headers[i + 1] as HeaderValue]);
    return pairs;
  }
  if (isIterable(headers)) return [...(headers as Iterable<[string, HeaderValue]>)].map(([n, v]) => [n, v]);
  return Object.entries(headers as Record<string, HeaderValue>);
}

/** The value of one header (names compared case-insensitively), the first if repeated. */
export function headerValue(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  for (const [n, v] of headerEntries(headers)) {
    if (typeof n === 'string' && n.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

/**
 * A new headers value with `name` set to `value`, any instance of it in any case removed
 * (two stamps on one request would be `malformed`). An object stays an object — a retry
 * handler outside us spreads it — and every other shape becomes a flat array, as undici's dns
 * interceptor does. The caller's value is never touched.
 */
export function withHeader(headers: Dispatcher.DispatchOptions['headers'], name: string, value: string): Dispatcher.DispatchOptions['headers'] {
  const keep = ([n]: [string, HeaderValue]) => typeof n !== 'string' || n.toLowerCase() !== name;
  if (headers === null || headers === undefined) return { [name]: value };
  if (!Array.isArray(headers) && !isIterable(headers)) {
    const copy: Record<string, string | string[]> = {};
    for (const [n, v] of Object.entries(headers as Record<string, HeaderValue>)) {
      if (v !== undefined && keep([n, v])) copy[n] = v;
    }
    copy[name] = value;
    return copy;
  }
  const flat: string[] = [];
  for (const [n, v] of headerEntries(headers).filter(keep)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) flat.push(n, item);
    else flat.push(n, v);
  }
  flat.push(name, value);
  return flat;
}
