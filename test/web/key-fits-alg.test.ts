import { describe, expect, it } from 'vitest';
import { createWebVerifier } from '../../server/web/index.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * PROTOCOL §2.3: "A key that does not fit its alg (a short secret, a P-384 key named ES256, …)
 * is refused when the keys are loaded, never at request time." The Node platform is held to it
 * (test/verify/key-set.test.ts); on the web platform nothing asserted it for a JWK of the wrong
 * curve, nor for a CryptoKey whose HMAC hash is not the alg's — a key WebCrypto would then use
 * with another hash than the token names.
 */
const store = () => new MapReplayStore();

describe('createWebVerifier refuses, at setup, a key that does not fit its alg', () => {
  it.each([
    ['a P-384 key named ES256', 'ES384', 'ES256'],
    ['a P-256 key named ES384', 'ES256', 'ES384'],
    ['a P-256 key named EdDSA', 'ES256', 'EdDSA'],
    ['an Ed25519 key named ES256', 'EdDSA', 'ES256'],
  ] as const)('%s (JWK)', async (_, made, named) => {
    const key = await makeKey(made, 'k');
    expect(() => createWebVerifier({ keys: { keys: [{ ...key.publicJwk, alg: named }] }, replayStore: store() })).toThrow(/does not fit alg/);
  });

  it.each([
    ['SHA-512', 'HS256'],
    ['SHA-256', 'HS512'],
  ] as const)('an HMAC CryptoKey with hash %s named %s', async (hash, alg) => {
    const cryptoKey = await crypto.subtle.importKey('raw', new Uint8Array(64).fill(7), { name: 'HMAC', hash }, false, ['verify']);
    expect(() => createWebVerifier({ keys: { keys: [{ key: cryptoKey, alg, kid: 'k' }] }, replayStore: store() })).toThrow(/does not fit alg/);
  });
});
