import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { isSmallOrderEd25519, publicJwkOf } from '../../shared/public-jwk.js';
import { thumbprintInput } from '../../shared/token-checks.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';

export { algsOfClientKey } from './client-algs.js';

/** RFC 7638 thumbprint (SHA-256, base64url): the `kid` of a key that a ticket vouches for. */
export function jwkThumbprint(jwk: ClientPublicJwk): string {
  return createHash('sha256').update(thumbprintInput(jwk)).digest('base64url');
}

export function importClientKey(jwk: ClientPublicJwk): KeyObject | undefined {
  const members = publicJwkOf(jwk);
  if (isSmallOrderEd25519(members)) return undefined; // a key anyone can sign for
  try {
    return createPublicKey({ key: members, format: 'jwk' });
  } catch {
    return undefined; // not a point on the curve
  }
}
