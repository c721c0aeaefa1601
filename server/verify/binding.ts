import { createHash } from 'node:crypto';
import { originFromHost } from '../../shared/htu.js';
import type { StampClaims } from '../../shared/schema.js';
import type { CompiledOptions } from './options.js';
import type { VerifyInput } from './types.js';

/** What step 9 compares: the claims a request must be bound to (stamp claims, or a ticket request's). */
type BindingClaims = Pick<StampClaims, 'htm' | 'htu' | 'cdg'>;

// Host headers repeat; URL parsing them does not need to. Bounded like every cache here.
const hostOrigins = new Map<string, string | null>();
function hostOrigin(host: string, scheme: 'http' | 'https'): string | undefined {
  const key = `${scheme} ${host}`;
  let origin = hostOrigins.get(key);
  if (origin === undefined) {
    origin = originFromHost(host, scheme) ?? null;
    if (hostOrigins.size >= 1024) hostOrigins.clear();
    hostOrigins.set(key, origin);
  }
  return origin ?? undefined;
}

/** PROTOCOL.md §5 step 9: method, target URI (origin pinned or from Host) and body digest. */
export function bindingMatches(claims: BindingClaims, input: VerifyInput, opts: Pick<CompiledOptions, 'origins' | 'requireBodyDigest'>): boolean {
  if (claims.htm !== input.method) return false;
  const query = input.url.indexOf('?');
  const path = query === -1 ? input.url : input.url.slice(0, query);
  const schemeEnd = claims.htu.indexOf('://') + 3;
  const pathStart = claims.htu.indexOf('/', schemeEnd);
  if (pathStart === -1 || claims.htu.slice(pathStart) !== path) return false;
  const origin = claims.htu.slice(0, pathStart);
  if (opts.origins) {
    if (!opts.origins.has(origin)) return false;
  } else {
    const host = input.headers.host;
    if (typeof host !== 'string' || hostOrigin(host, input.protocol ?? 'http') !== origin) return false;
  }
  if (claims.cdg !== undefined) {
    const digest = createHash('sha256')
      .update(input.body ?? new Uint8Array(0))
      .digest('base64url');
    if (digest !== claims.cdg) return false;
  } else if (opts.requireBodyDigest) {
    return false;
  }
  return true;
}
