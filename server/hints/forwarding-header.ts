import { hintAddress } from '../../shared/address.js';
import { STAMP_HEADER, TICKET_HEADER } from '../../shared/constants.js';
import { parseForwarded } from './forwarded.js';
import { checkForwardingLimits, DEFAULT_FORWARDING_LIMITS, trimOws, walkCommaList, type ForwardingLimits } from './forwarding-list.js';

export { DEFAULT_FORWARDING_LIMITS, type ForwardingLimits } from './forwarding-list.js';

export const DEFAULT_FORWARDED_HEADER = 'x-forwarded-for';

/** The l7 entries of one request, left to right: canonical addresses, undefined where invalid. */
export type ForwardingEntries = (string | undefined)[];

/** Reads the instances of the one configured header (PROTOCOL.md §4). */
export type ForwardingHeaderReader = ((values: readonly string[]) => ForwardingEntries) & {
  /** The header name, lower case: use it to fetch the instances. */
  readonly headerName: string;
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Compiles the reader for `forwardedHeader` once, at setup: `x-forwarded-for`, `forwarded`,
 * or any other name as a single-address header. A name that is not an HTTP token, or bad
 * limits, throw TypeError naming the option.
 */
export function forwardingHeaderReader(
  name: string = DEFAULT_FORWARDED_HEADER,
  limits?: Partial<ForwardingLimits>,
  option = 'forwardedHeader',
): ForwardingHeaderReader {
  const headerName = typeof name === 'string' ? name.toLowerCase() : '';
  if (!TOKEN.test(headerName)) throw new TypeError(`${option} must be an HTTP header name`);
  // headers that already mean something else: a client writes the first two, and Host names the server
  if (headerName === STAMP_HEADER || headerName === TICKET_HEADER || headerName === 'host') {
    throw new TypeError(`${option}: "${headerName}" is not a forwarding header (it carries the ${headerName === 'host' ? 'server name' : 'stamp or ticket'})`);
  }
  let checked: ForwardingLimits;
  try {
    checked = checkForwardingLimits(limits);
  } catch (error) {
    throw new TypeError(`${option}: ${(error as Error).message}`);
  }
  const parse = headerName === 'x-forwarded-for' ? parseXForwardedFor : headerName === 'forwarded' ? parseForwarded : parseSingleAddressHeader;
  return Object.assign((values: readonly string[]) => parse(values, checked), { headerName });
}

/**
 * All instances of `name` from Node headers. Pass `req.headersDistinct` (every instance as
 * received); `req.headers` joins X-Forwarded-For/Forwarded duplicates with ", " (same result)
 * but also joins single-address duplicates, which then read as one invalid entry.
 */
export function headerInstances(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): readonly string[] {
  // own headers only: Node's header object inherits from Object.prototype, which a bug elsewhere may have written a forwarding header onto
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

/**
 * X-Forwarded-For, all instances in order (pass `req.headersDistinct['x-forwarded-for']`):
 * every comma-separated entry becomes its canonical address, or undefined when it is not
 * one (`unknown`, empty, garbage). Never throws.
 */
export function parseXForwardedFor(values: readonly string[], limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS): (string | undefined)[] {
  return walkCommaList(values, limits, hintAddress);
}

/**
 * A header that holds one address (`x-real-ip`, `cf-connecting-ip`, `true-client-ip`, …).
 * The trusted proxy overwrites it, so a second instance means someone else wrote one too:
 * that, a list, or an over-long value is a single invalid entry. No instance: no entries.
 */
export function parseSingleAddressHeader(values: readonly string[], limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS): (string | undefined)[] {
  if (values.length === 0) return [];
  const value = values[0]!;
  if (values.length > 1 || value.length > limits.maxBytes) return [undefined];
  return [hintAddress(trimOws(value))];
}
