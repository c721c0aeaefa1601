import { createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { isSmallOrderEd25519Encoding } from '../../shared/public-jwk.js';
import type { StampAlg } from '../../shared/schema.js';

// named once: building `sha${n}` on every call would allocate a string per request
const HASH_OF = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512', ES256: 'sha256', ES384: 'sha384' } as const;

/**
 * The fast path: node:crypto on a KeyObject imported once. jose would route HMAC through
 * WebCrypto at about a tenth of this speed; test/verify/differential.test.ts proves both
 * accept exactly the same signatures. (A hand-written JavaScript HMAC measured faster inside a
 * busy server, and was refused: a security library keeps its primitives in OpenSSL.)
 */
export function verifySignature(alg: StampAlg, key: KeyObject, signingInput: string, signature: Uint8Array): boolean {
  switch (alg) {
    case 'HS256':
    case 'HS384':
    case 'HS512': {
      // The MAC as a 'binary' (latin1) string, then into a pooled Buffer: byte for byte the same as
      // digest(), without the ArrayBuffer of its own that digest() allocates per call (~0.3 µs and
      // GC in a busy server, #16). The comparison stays OpenSSL's constant-time one.
      const expected = Buffer.from(createHmac(HASH_OF[alg], key).update(signingInput, 'latin1').digest('binary'), 'latin1');
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    case 'ES256':
    case 'ES384': {
      // JWS carries r‖s (IEEE P1363), not DER
      if (signature.length !== (alg === 'ES256' ? 64 : 96)) return false;
      return verifyOrFalse(HASH_OF[alg], signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    case 'EdDSA':
    case 'Ed25519':
      // R of small order: refused as libsodium and Node 24 refuse it, so no platform differs (PROTOCOL.md §2.4)
      if (signature.length !== 64 || isSmallOrderEd25519Encoding(signature.subarray(0, 32))) return false;
      return verifyOrFalse(null, signingInput, key, signature);
  }
}

function verifyOrFalse(
  hash: string | null,
  signingInput: string,
  key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' },
  signature: Uint8Array,
): boolean {
  try {
    return verify(hash, Buffer.from(signingInput, 'latin1'), key, signature);
  } catch {
    return false;
  }
}
