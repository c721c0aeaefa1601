import { forwardedProtoOf } from './forwarded.js';
import { DEFAULT_FORWARDING_LIMITS, walkCommaList, type ForwardingLimits } from './forwarding-list.js';

/**
 * The protocol header: the scheme a TLS-terminating proxy saw the client use, as
 * `X-Forwarded-Proto` or RFC 7239 `Forwarded: proto=`. Like the forwarding header it is
 * believed only from a trusted immediate peer, and of several entries only the one a
 * trusted hop wrote counts (`forwardedScheme`).
 */

export type Scheme = 'http' | 'https';

/** Which header carries the scheme: `x-forwarded-proto`, `forwarded` (its `proto=`), or none. */
export type ProtoHeaderOption = 'x-forwarded-proto' | 'forwarded' | false;

/** The entries of one request's protocol header, left to right: the scheme, undefined where invalid. */
export type SchemeEntries = (Scheme | undefined)[];

/** Reads every instance of the configured protocol header. */
export type ProtoHeaderReader = ((values: readonly string[]) => SchemeEntries) & {
  /** The header name, lower case: use it to fetch the instances. */
  readonly headerName: 'x-forwarded-proto' | 'forwarded';
};

/** `http` or `https` in any case; anything else (`wss`, `https ;`, empty) is not a scheme we take. */
export function schemeOf(text: string): Scheme | undefined {
  const lower = text.length === 4 || text.length === 5 ? text.toLowerCase() : '';
  return lower === 'http' || lower === 'https' ? lower : undefined;
}

/** X-Forwarded-Proto, all instances in order: one entry per comma-separated element (OWS trimmed). Never throws. */
export function parseXForwardedProto(values: readonly string[], limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS): SchemeEntries {
  return walkCommaList(values, limits, schemeOf) as SchemeEntries;
}

/**
 * Forwarded, all instances in order: one entry per element (split like the `for=` reading,
 * PROTOCOL.md §4), the scheme of its `proto=`; undefined when the element is malformed or
 * names no scheme we take. Never throws.
 */
export function parseForwardedProto(values: readonly string[], limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS): SchemeEntries {
  return walkCommaList(values, limits, (element) => {
    const proto = forwardedProtoOf(element);
    return proto === undefined ? undefined : schemeOf(proto);
  }) as SchemeEntries;
}

const READERS = {
  'x-forwarded-proto': Object.assign((values: readonly string[]) => parseXForwardedProto(values), { headerName: 'x-forwarded-proto' as const }),
  forwarded: Object.assign((values: readonly string[]) => parseForwardedProto(values), { headerName: 'forwarded' as const }),
};

/**
 * The reader for `protoHeader`, checked once at setup: undefined for `false` (no header is
 * believed); a value that is none of the choices throws TypeError naming the option.
 */
export function protoHeaderReader(value: unknown, option = 'protoHeader'): ProtoHeaderReader | undefined {
  if (value === false) return undefined;
  const name = typeof value === 'string' ? value.toLowerCase() : undefined; // header names are case-insensitive
  if (name === 'x-forwarded-proto' || name === 'forwarded') return READERS[name];
  throw new TypeError(`${option} must be one of 'x-forwarded-proto', 'forwarded', false`);
}

/**
 * PROTOCOL.md §4's right-to-left rule for the scheme. `writers` is how many trusted hops
 * wrote headers — the immediate peer, plus every trusted address at the right end of the
 * forwarding header (each was a proxy that forwarded the request) — so the walk that finds
 * the client also counts them. Each such hop set or appended one entry; the outermost one's,
 * the one the client's own connection was described by, is `writers` places from the right,
 * or the leftmost entry when there are fewer (hops that replaced the header rather than
 * appended). Entries further left were written by the client and are never reached.
 * The entry found must be a scheme we take; otherwise the header says nothing (undefined).
 */
export function forwardedScheme(entries: readonly (Scheme | undefined)[], writers: number): Scheme | undefined {
  if (writers < 1 || entries.length === 0) return undefined;
  return entries[entries.length - Math.min(writers, entries.length)];
}
