import fc from 'fast-check';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRegistryKey } from '../../server/registry/key-registry.js';

let ec: JWK;
let okp: JWK;
beforeAll(async () => {
  ec = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
  okp = await exportJWK((await generateKeyPair('EdDSA', { extractable: true, crv: 'Ed25519' })).publicKey);
});

/** Whatever arrives in a registration body: a key either parses or is a TypeError with a fixed message. */
function outcome(input: unknown): 'ok' | 'type-error' {
  try {
    parseRegistryKey(input);
    return 'ok';
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    expect(error.message).toMatch(/^jwk: [a-z]/);
    return 'type-error';
  }
}

const MEMBERS = ['kty', 'crv', 'x', 'y', 'd', 'k', 'kid', 'alg', 'use', 'key_ops', '__proto__', 'constructor'];

describe('parseRegistryKey (property)', () => {
  it('any JSON value: a parsed key or a TypeError, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => void outcome(value)),
      { numRuns: 500 },
    );
  });

  it('a valid key with members replaced by arbitrary values: parsed only if still a public P-256/Ed25519 key of that thumbprint', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.dictionary(fc.constantFrom(...MEMBERS), fc.jsonValue(), { maxKeys: 3 }), (useEc, changes) => {
        const base = useEc ? ec : okp;
        const jwk = { ...base, ...changes };
        if (outcome(jwk) === 'ok') {
          const parsed = parseRegistryKey(jwk);
          expect(Object.hasOwn(jwk, 'd') || Object.hasOwn(jwk, 'k')).toBe(false);
          expect(parsed.publicJwk).toEqual(useEc ? { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } : { kty: 'OKP', crv: 'Ed25519', x: jwk.x });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the kid it derives is jose’s RFC 7638 thumbprint (what generateStampKey uses in the browser)', async () => {
    expect(parseRegistryKey(ec).kid).toBe(await calculateJwkThumbprint(ec, 'sha256'));
    expect(parseRegistryKey(okp).kid).toBe(await calculateJwkThumbprint(okp, 'sha256'));
  });
});
