import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importClientKey } from '../../server/jws/public-jwk.js';
import { createKeyRegistry } from '../../server/registry/key-registry.js';
import { createVerifier } from '../../server/verify/create-verifier.js';
import { createWebVerifier } from '../../server/web/index.js';
import { webCrypto } from '../../server/jws/web-crypto.js';
import { isSmallOrderEd25519, isSmallOrderEd25519Encoding } from '../../shared/public-jwk.js';

/**
 * Ed25519 keys of small order (review of 2026-12-06): under the identity point, the signature
 * R = identity, S = 0 verifies every message — with Node 20's OpenSSL, at least (newer ones may
 * refuse it themselves) — so a ticket bound to such a key was a bearer credential: anyone
 * holding it made stamps accepted for its address. Such keys are refused wherever a public key
 * is imported, whatever the runtime's OpenSSL does.
 */
const hex = (h: string) => Buffer.from(h, 'hex').toString('base64url');
// the 8 torsion points and the encodings with y >= p, each with both sign bits
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].flatMap((h) => [h, `${h.slice(0, 62)}${(Number.parseInt(h.slice(62), 16) | 0x80).toString(16)}`]);
const okp = (x: string) => ({ kty: 'OKP' as const, crv: 'Ed25519' as const, x });

describe("the small-order test on 32 bytes (keys and every EdDSA signature's R)", () => {
  // the plain form of the blocklist lookup: clear the sign bit, look the hex up
  const plain = (bytes: Uint8Array) => {
    const cleared = Buffer.from(bytes);
    cleared[31] = cleared[31]! & 0x7f;
    return bytes.length === 32 && SMALL_ORDER.includes(cleared.toString('hex'));
  };

  it('answers as the hex lookup: every listed encoding with either sign bit, and any other bytes', () => {
    for (const h of SMALL_ORDER) expect(isSmallOrderEd25519Encoding(Buffer.from(h, 'hex')), h).toBe(true);
    const near = fc.tuple(fc.constantFrom(...SMALL_ORDER), fc.nat(31), fc.integer({ min: 1, max: 255 })).map(([h, i, flip]) => {
      const bytes = Buffer.from(h, 'hex');
      bytes[i] = bytes[i]! ^ flip;
      return new Uint8Array(bytes);
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 31, maxLength: 33 }), near), (bytes) => {
        expect(isSmallOrderEd25519Encoding(bytes)).toBe(plain(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Ed25519 keys of small order', () => {
  it.each(SMALL_ORDER)('%s is refused by every import', async (h) => {
    const jwk = okp(hex(h));
    expect(isSmallOrderEd25519(jwk)).toBe(true);
    expect(importClientKey(jwk)).toBeUndefined();
    expect(await webCrypto.importClientKey(jwk)).toBeUndefined();
    const verifierKey = { ...jwk, kid: 'small', alg: 'EdDSA' };
    expect(() => createVerifier({ keys: { keys: [verifierKey] } })).toThrow(/small order/);
    expect(() => createWebVerifier({ keys: { keys: [verifierKey] } })).toThrow(/small order/);
    expect(() => createKeyRegistry().registerKey({ ...jwk, alg: 'EdDSA' })).toThrow(TypeError);
  });

  it('a real Ed25519 key is not of small order, and imports', () => {
    fc.assert(
      fc.property(fc.constant(null), () => {
        const x = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;
        expect(isSmallOrderEd25519(okp(x))).toBe(false);
        expect(importClientKey(okp(x))).toBeDefined();
      }),
      { numRuns: 50 },
    );
    expect(isSmallOrderEd25519({ kty: 'EC', crv: 'P-256', x: hex(SMALL_ORDER[0]!), y: hex(SMALL_ORDER[0]!) })).toBe(false);
    // an X25519 key is no Ed25519 key, whatever its bytes: refused for what it is, not for its order
    expect(isSmallOrderEd25519({ kty: 'OKP', crv: 'X25519', x: hex(SMALL_ORDER[0]!) })).toBe(false);
  });
});
