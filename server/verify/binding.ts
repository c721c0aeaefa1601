import { originFromHost } from '../../shared/htu.js';
import type { Scheme } from '../hints/forwarded-proto.js';
import type { StampClaims } from '../../shared/schema.js';
import type { CompiledOptions } from './options.js';
import { requestScheme } from './scheme.js';
import type { NetworkHints, VerifyInput } from './types.js';

/** What step 9 compares: the claims a request must be bound to (stamp claims, or a ticket request's). */
type BindingClaims = Pick<StampClaims, 'htm' | 'htu' | 'cdg'>;

// Host headers repeat; URL parsing them does not need to. One map per scheme, so a lookup
// builds no key, and the last answer first: every request brings its Host as a new string,
// which a map must hash, while comparing it with the last one is a short memcmp.
// Bounded like every cache here: when full it starts over; and a Host longer than a DNS name
// with a port is not remembered (1,024 Hosts of 15 KB held 30 MB: test/verify/resource-bounds.test.ts).
const MAX_CACHED_HOSTS = 1024;
const MAX_CACHED_HOST_LENGTH = 253 + ':65535'.length;
const hostOrigins = { http: new Map<string, string | null>(), https: new Map<string, string | null>() };
let lastHost = '';
let lastScheme = '';
let lastOrigin: string | null = null;
function hostOrigin(host: string, scheme: Scheme): string | undefined {
  if (host === lastHost && scheme === lastScheme) return lastOrigin ?? undefined;
  const cache = hostOrigins[scheme];
  let origin = cache.get(host);
  if (origin === undefined) {
    origin = originFromHost(host, scheme) ?? null;
    if (host.length > MAX_CACHED_HOST_LENGTH) return origin ?? undefined;
    if (cache.size >= MAX_CACHED_HOSTS) cache.clear();
    cache.set(host, origin);
  }
  lastHost = host;
  lastScheme = scheme;
  lastOrigin = origin;
  return origin ?? undefined;
}

/**
 * The authority a request names: HTTP/2 sends `:authority` and, as a rule, no Host (RFC 9113
 * §8.3.1). A Host beside it that names another entity makes the request malformed there: no
 * origin. Names differ in case only where they mean the same host; any other difference (a
 * default port written out included) is refused.
 */
function authorityOf(headers: VerifyInput['headers']): string | readonly string[] | undefined {
  const { host } = headers;
  const authority = headers[':authority'];
  if (authority === undefined) return host;
  if (host === undefined || host === authority) return authority;
  return typeof host === 'string' && typeof authority === 'string' && host.toLowerCase() === authority.toLowerCase() ? authority : undefined;
}

/**
 * PROTOCOL.md §5 step 9: method, target URI and body digest. The origin is one of the
 * configured `origins`, else Host with the scheme trusted evidence names (scheme.ts).
 */
export function bindingMatches(
  claims: BindingClaims,
  input: VerifyInput,
  opts: Pick<CompiledOptions, 'origins' | 'requireBodyDigest' | 'trust' | 'protoHeader' | 'platform'>,
  hints: Pick<NetworkHints, 'l3' | 'l4' | 'l7'>,
): boolean | Promise<boolean> {
  if (claims.htm !== input.method) return false;
  const { htu } = claims;
  const { url } = input;
  const query = url.indexOf('?');
  const pathLength = query === -1 ? url.length : query;
  const schemeEnd = htu.indexOf('://') + 3;
  const pathStart = htu.indexOf('/', schemeEnd);
  // htu's path is exactly the request path, compared in place
  if (pathStart === -1 || htu.length - pathStart !== pathLength || !htu.startsWith(query === -1 ? url : url.slice(0, query), pathStart)) {
    return false;
  }
  if (opts.origins) {
    if (!opts.origins.has(htu.slice(0, pathStart))) return false;
  } else {
    const host = authorityOf(input.headers);
    const origin = typeof host === 'string' ? hostOrigin(host, requestScheme(input, hints, opts).scheme) : undefined;
    if (origin === undefined || origin.length !== pathStart || !htu.startsWith(origin)) return false;
  }
  if (claims.cdg !== undefined) {
    // no bytes means bytes nobody read (a stream, a body past its limit), not an empty body: a
    // stolen stamp whose cdg covers an empty body would otherwise pass with any body at all
    if (input.body === undefined) return false;
    // sync on Node; WebCrypto digests asynchronously
    const digest = opts.platform.crypto.sha256(input.body);
    return typeof digest === 'string' ? digest === claims.cdg : digest.then((d) => d === claims.cdg);
  } else if (opts.requireBodyDigest) {
    return false;
  }
  return true;
}
