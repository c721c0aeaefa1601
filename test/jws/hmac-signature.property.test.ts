import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../server/jws/signature.js';

/**
 * The HMAC check takes the MAC as a 'binary' string into a pooled Buffer rather than digest()'s
 * own Buffer (#16). The plain path — digest(), then timingSafeEqual — is rebuilt here: on any
 * key, signing input and signature (right, one bit off, cut short, longer, random), both answer
 * the same.
 */
const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

function plainCheck(alg: keyof typeof HASH, key: Uint8Array, input: string, signature: Uint8Array): boolean {
  const expected = createHmac(HASH[alg], key).update(input, 'latin1').digest();
  return expected.length === signature.length && timingSafeEqual(expected, signature);
}

const alg = fc.constantFrom('HS256', 'HS384', 'HS512') as fc.Arbitrary<keyof typeof HASH>;
const input = fc.string({ unit: 'binary', maxLength: 600 });
const key = fc.uint8Array({ minLength: 1, maxLength: 128 });
const change = fc.oneof(
  fc.constant({ kind: 'right' as const }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), by: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('longer' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 80 }) }),
);

describe('the HMAC signature check answers as digest() + timingSafeEqual', () => {
  it('on any key, input and signature', () => {
    const seen = new Set<boolean>();
    fc.assert(
      fc.property(alg, key, input, change, (a, k, text, c) => {
        const mac = createHmac(HASH[a], k).update(text, 'latin1').digest();
        let signature: Uint8Array = mac;
        if (c.kind === 'flip') {
          signature = Uint8Array.from(mac);
          signature[c.at % mac.length]! ^= 1 << c.bit;
        } else if (c.kind === 'cut') signature = mac.subarray(0, Math.max(0, mac.length - c.by));
        else if (c.kind === 'longer') signature = Uint8Array.from([...mac, ...c.extra]);
        else if (c.kind === 'random') signature = c.bytes;
        const answer = verifySignature(a, createSecretKey(k), text, signature);
        expect(answer).toBe(plainCheck(a, k, text, signature));
        seen.add(answer);
      }),
      { numRuns: 1500 },
    );
    expect(seen).toEqual(new Set([true, false]));
  });
});
