import { STAMP_HEADER, TICKET_HEADER } from '../../shared/constants.js';
import type { HeaderMap } from './types.js';

/**
 * Is this a CORS preflight (Fetch standard, "CORS-preflight request")? A browser sends one
 * before a cross-origin request that carries `Client-IP-Attestation`, and by design it
 * carries no stamp: checking it would refuse it and the browser would never send the real
 * request. So no adapter verifies one, and none treats it as verified either.
 *
 * Exactly `OPTIONS` with both `Origin` and `Access-Control-Request-Method`; any other
 * `OPTIONS` request is an ordinary request and is verified like the rest. Header names in
 * lower case, as Node gives them.
 */
export function isCorsPreflight(method: string, headers: HeaderMap): boolean {
  return method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
}

/** The request headers a stamped cross-origin request adds: a preflight must allow them. */
export const STAMP_REQUEST_HEADERS: readonly string[] = Object.freeze([STAMP_HEADER, TICKET_HEADER]);
