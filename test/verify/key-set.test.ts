import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKeySet, createVerifier, type JwkSet } from '../../server/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';
import { outcomeOf, stampedGet } from '../support/stamped-get.js';

/** Issue 18, key rotation: a JWK Set reloaded in place, under one verifier and its replay memory. */
const NOW = 1_764_000_000_000;
let oldKey: TestKeyPair;
let newKey: TestKeyPair;
let hs: TestKeyPair;
beforeAll(async () => {
  oldKey = await makeKey('ES256', 'client-2025');
  newKey = await makeKey('EdDSA', 'client-2026');
  hs = await makeKey('HS256', 'service-a');
});

let n = 0;
function stampBy(key: TestKeyPair, jti = `rot-${String(++n).padStart(20, '0')}`): string {
  return signRaw(
    key.privateJwk,
    { alg: key.alg, typ: 'ipstamp+jwt', kid: key.kid },
    { ip: '192.0.2.7', iat: NOW / 1000, jti, htm: 'GET', htu: 'https://api.example.com/a' },
  );
}

function verifierOver(lookup: Parameters<typeof createVerifier>[0]['keys']) {
  const v = createVerifier({ keys: lookup, now: () => NOW });
  return async (token: string) => outcomeOf(await v.verify(stampedGet(token)));
}

describe('createKeySet', () => {
  it('adds a key, then removes the old one, under the same verifier: the replay memory stays', async () => {
    const keys = createKeySet({ keys: [oldKey.publicJwk] });
    const verify = verifierOver(keys.lookup);
    const usedBeforeReload = stampBy(oldKey);
    expect(await verify(usedBeforeReload)).toBe('accepted');
    expect(await verify(stampBy(newKey))).toBe('unknown-key');

    expect(keys.reload({ keys: [oldKey.publicJwk, newKey.publicJwk] })).toEqual({ added: ['client-2026'], removed: [], changed: [], count: 2 });
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    expect(await verify(stampBy(newKey))).toBe('accepted');
    // the stamp used before the reload is still remembered
    expect(await verify(usedBeforeReload)).toBe('replay');

    const usedInOverlap = stampBy(newKey);
    expect(await verify(usedInOverlap)).toBe('accepted');
    expect(keys.reload({ keys: [newKey.publicJwk] })).toEqual({ added: [], removed: ['client-2025'], changed: [], count: 1 });
    expect(await verify(stampBy(oldKey))).toBe('unknown-key');
    expect(await verify(stampBy(newKey))).toBe('accepted');
    expect(await verify(usedInOverlap)).toBe('replay');
    expect(keys.kids).toEqual(['client-2026']);
  });

  it('a set that does not pass throws TypeError naming the key, and the keys in use stay', async () => {
    const keys = createKeySet({ keys: [oldKey.publicJwk, hs.publicJwk] });
    const verify = verifierOver(keys.lookup);
    const refusals: [unknown, RegExp][] = [
      [{ keys: [newKey.publicJwk, { ...hs.publicJwk, k: 'c2hvcnQ' }] }, /^keys\[1\]: HMAC secret must be at least 32 bytes$/],
      [{ keys: [newKey.privateJwk] }, /^keys\[0\]: is a private key \(it has "d"\); the verifier needs only the public half$/],
      [{ keys: [newKey.publicJwk, newKey.publicJwk] }, /^keys\[1\]: duplicate kid$/],
      [{ keys: [{ ...newKey.publicJwk, alg: 'ES256' }] }, /^keys\[0\]: key does not fit alg ES256$/],
      [{ keys: [{ ...newKey.publicJwk, alg: undefined }] }, /^keys\[0\]: alg must be one of /],
      [{ keys: [{ ...newKey.publicJwk, alg: 'none' }] }, /^keys\[0\]: alg must be one of /],
      [{ keys: [{ ...newKey.publicJwk, allowed_ips: ['10.0.0.0/8', 5] }] }, /^keys\[0\]: allowed_ips must be an array of CIDR strings$/],
      [{ keys: [[]] }, /^keys\[0\]: must be a JWK object$/],
      [{ keys: 'none' }, /^keys must be a JWK Set/],
      [null, /^keys must be a JWK Set/],
    ];
    for (const [set, message] of refusals) {
      expect(() => keys.reload(set as JwkSet)).toThrow(message);
      expect(() => keys.reload(set as JwkSet)).toThrow(TypeError);
    }
    expect(keys.kids).toEqual(['client-2025', 'service-a']);
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    expect(await verify(stampBy(hs))).toBe('accepted');
    expect(await verify(stampBy(newKey))).toBe('unknown-key');
  });

  it('a key whose allowed_ips change is reported changed and takes effect; an unchanged key keeps its object', async () => {
    const keys = createKeySet({ keys: [oldKey.publicJwk, hs.publicJwk] });
    const before = keys.lookup('service-a');
    const verify = verifierOver(keys.lookup);
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    const change = keys.reload({ keys: [{ ...oldKey.publicJwk, allowed_ips: ['198.51.100.0/24'] }, hs.publicJwk] });
    expect(change).toEqual({ added: [], removed: [], changed: ['client-2025'], count: 2 });
    expect(keys.lookup('service-a')).toBe(before);
    expect(await verify(stampBy(oldKey))).toBe('ip-not-allowed');
  });

  it('createKeySet itself refuses a bad set at once', () => {
    expect(() => createKeySet({ keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'k', alg: 'HS256' }] })).toThrow(/^keys\[0\]: HMAC secret must be at least 32 bytes$/);
  });
});

describe('reload with anything (property)', () => {
  const jwkLike = (): fc.Arbitrary<unknown> =>
    fc.oneof(
      fc.constantFrom<unknown>(oldKey.publicJwk, newKey.publicJwk, hs.publicJwk, newKey.privateJwk),
      fc.record({ kty: fc.constantFrom('EC', 'OKP', 'oct', 'RSA'), kid: fc.string({ maxLength: 6 }), alg: fc.constantFrom('ES256', 'EdDSA', 'HS256', 'none') }),
      fc.anything(),
    );
  const setLike = (): fc.Arbitrary<unknown> => fc.oneof(fc.record({ keys: fc.array(jwkLike(), { maxLength: 4 }) }), fc.anything());

  it('either takes the whole new set or throws TypeError and answers exactly as before', () => {
    fc.assert(
      fc.property(fc.array(setLike(), { minLength: 1, maxLength: 6 }), (sets) => {
        const keys = createKeySet({ keys: [oldKey.publicJwk] });
        for (const set of sets) {
          const kidsBefore = keys.kids;
          const answers = ['client-2025', 'client-2026', 'service-a'].map((kid) => keys.lookup(kid));
          let change;
          try {
            change = keys.reload(set as JwkSet);
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError);
            expect(keys.kids).toEqual(kidsBefore);
            expect(['client-2025', 'client-2026', 'service-a'].map((kid) => keys.lookup(kid))).toEqual(answers);
            continue;
          }
          const wanted = (set as { keys: { kid: string }[] }).keys.map((k) => k.kid);
          expect(keys.kids).toEqual(wanted);
          expect(change.count).toBe(wanted.length);
          for (const kid of wanted) expect(keys.lookup(kid)?.kid).toBe(kid);
        }
      }),
      { numRuns: 150 },
    );
  });
});
