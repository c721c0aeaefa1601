import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { publicJwkOf } from '../../shared/public-jwk.js';
import { thumbprintInput } from '../../shared/token-checks.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';

export { algsOfClientKey } from './client-algs.js';

/** RFC 7638 thumbprint (SHA-256, base64url): the `kid` of a key that a ticket vouches for. */
export function jwkThumbprint(jwk: ClientPublicJwk): string {
  return createHash('sha256').update(thumbprintInput(jwk)).digest('base64url');
}

export function importClientKey(jwk: ClientPublicJwk): KeyObject | undefined {
  try {
    return createPublicKey({ key: publicJwkOf(jwk), format: 'jwk' });
  } catch {
    return undefined; // not a point on the curve
  }
}
