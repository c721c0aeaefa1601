import { createSecretKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifySignature as nodeVerify } from '../../server/jws/signature.js';
import { webCrypto, type WebKey } from '../../server/jws/web-crypto.js';
import type { StampAlg } from '../../shared/constants.js';

/**
 * The signature check on its own (server/jws/signature.ts on Node, web-crypto.ts on the web):
 * true only for a key of the alg's kind and a signature of the alg's length — PROTOCOL §2.4:
 * "A signature of the wrong length is simply invalid". Keys are pinned to their alg at load,
 * so this is the last line: an ECDSA key signs over any hash, and a check that took the
 * OpenSSL or WebCrypto answer alone would let a P-256 key's SHA-384 signature pass as ES384.
 */
const INPUT = 'eyJhbGciOiJFUzM4NCJ9.eyJpcCI6IjE5Mi4wLjIuNyJ9';

const pair = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ed25519: generateKeyPairSync('ed25519'),
};
const secret = createSecretKey(Buffer.alloc(32, 9));

/** The same key on the web, as the web platform holds it. */
async function webKeyOf(key: KeyObject, algorithm: Algorithm | EcKeyImportParams | HmacImportParams): Promise<WebKey> {
  const cryptoKey =
    key.type === 'secret'
      ? await crypto.subtle.importKey('raw', key.export(), algorithm, false, ['verify'])
      : await crypto.subtle.importKey('jwk', key.export({ format: 'jwk' }), algorithm, false, ['verify']);
  return { cryptoKey: Promise.resolve(cryptoKey) };
}

const p1363 = (hash: string, key: KeyObject) => sign(hash, Buffer.from(INPUT), { key, dsaEncoding: 'ieee-p1363' });

describe('an ECDSA signature over another hash than the alg names, of the other alg’s length, is invalid', () => {
  it('node and web: a P-256 key’s SHA-384 signature (64 bytes) is no ES384 signature; a P-384 key’s SHA-256 one (96 bytes) no ES256', async () => {
    const p256Sha384 = p1363('sha384', pair.p256.privateKey);
    const p384Sha256 = p1363('sha256', pair.p384.privateKey);
    const webP256 = await webKeyOf(pair.p256.publicKey, { name: 'ECDSA', namedCurve: 'P-256' });
    const webP384 = await webKeyOf(pair.p384.publicKey, { name: 'ECDSA', namedCurve: 'P-384' });
    expect(nodeVerify('ES384', pair.p256.publicKey, INPUT, p256Sha384)).toBe(false);
    expect(nodeVerify('ES256', pair.p384.publicKey, INPUT, p384Sha256)).toBe(false);
    expect(await webCrypto.verifySignature('ES384', webP256, INPUT, p256Sha384)).toBe(false);
    expect(await webCrypto.verifySignature('ES256', webP384, INPUT, p384Sha256)).toBe(false);
    // the keys and signatures are sound: under their own alg they verify
    expect(nodeVerify('ES256', pair.p256.publicKey, INPUT, p1363('sha256', pair.p256.privateKey))).toBe(true);
    expect(await webCrypto.verifySignature('ES384', webP384, INPUT, p1363('sha384', pair.p384.privateKey))).toBe(true);
  });
});

describe('a key of another kind than the alg answers false: never true, never a throw', () => {
  const LENGTH: Record<string, number> = { ES256: 64, ES384: 96, EdDSA: 64, Ed25519: 64 };
  const cases: [StampAlg, string, KeyObject, Algorithm | EcKeyImportParams | HmacImportParams][] = [
    ['ES256', 'an Ed25519 key', pair.ed25519.publicKey, { name: 'Ed25519' }],
    ['ES384', 'an Ed25519 key', pair.ed25519.publicKey, { name: 'Ed25519' }],
    ['ES256', 'an HMAC secret', secret, { name: 'HMAC', hash: 'SHA-256' }],
    ['EdDSA', 'a P-256 key', pair.p256.publicKey, { name: 'ECDSA', namedCurve: 'P-256' }],
    ['Ed25519', 'an HMAC secret', secret, { name: 'HMAC', hash: 'SHA-256' }],
  ];

  it.each(cases)('%s with %s, on any signature of the alg’s length', async (alg, _what, key, algorithm) => {
    const webKey = await webKeyOf(key, algorithm);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: LENGTH[alg], maxLength: LENGTH[alg] }), async (signature) => {
        expect(nodeVerify(alg, key, INPUT, signature)).toBe(false);
        expect(await webCrypto.verifySignature(alg, webKey, INPUT, signature)).toBe(false);
      }),
      { numRuns: 20 },
    );
  });
});
