import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { publicJwkOf } from '../../shared/public-jwk.js';
import { thumbprintInput, type ClientPublicJwk } from '../../shared/ticket-schema.js';
import type { StampAlg } from '../../shared/schema.js';

/** RFC 7638 thumbprint (SHA-256, base64url): the `kid` of a key that a ticket vouches for. */
export function jwkThumbprint(jwk: ClientPublicJwk): string {
  return createHash('sha256').update(thumbprintInput(jwk)).digest('base64url');
}

/** The algs a client key may sign with: its curve decides, so a token cannot pick another. */
export function algsOfClientKey(jwk: ClientPublicJwk): readonly StampAlg[] {
  return jwk.kty === 'EC' ? ['ES256'] : ['EdDSA', 'Ed25519'];
}

export function importClientKey(jwk: ClientPublicJwk): KeyObject | undefined {
  try {
    return createPublicKey({ key: publicJwkOf(jwk), format: 'jwk' });
  } catch {
    return undefined; // not a point on the curve
  }
}
