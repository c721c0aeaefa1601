import { createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { StampAlg } from '../../shared/schema.js';

/**
 * The fast path: node:crypto on a KeyObject imported once. jose would route HMAC through
 * WebCrypto at about a tenth of this speed; test/verify/differential.test.ts proves both
 * accept exactly the same signatures.
 */
export function verifySignature(alg: StampAlg, key: KeyObject, signingInput: string, signature: Buffer): boolean {
  switch (alg) {
    case 'HS256':
    case 'HS384':
    case 'HS512': {
      const expected = createHmac(`sha${alg.slice(2)}`, key).update(signingInput, 'latin1').digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    case 'ES256':
    case 'ES384': {
      // JWS carries r‖s (IEEE P1363), not DER
      if (signature.length !== (alg === 'ES256' ? 64 : 96)) return false;
      return verifyOrFalse(`sha${alg.slice(2)}`, signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    case 'EdDSA':
    case 'Ed25519':
      if (signature.length !== 64) return false;
      return verifyOrFalse(null, signingInput, key, signature);
  }
}

function verifyOrFalse(
  hash: string | null,
  signingInput: string,
  key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' },
  signature: Buffer,
): boolean {
  try {
    return verify(hash, Buffer.from(signingInput, 'latin1'), key, signature);
  } catch {
    return false;
  }
}
