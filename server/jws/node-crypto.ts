/**
 * The Node platform (platform.ts): node:crypto KeyObjects imported once, signatures checked
 * synchronously in OpenSSL — the fast path every Node adapter runs.
 */
import { createHash, createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { isBase64url } from '../../shared/base64url.js';
import { isSmallOrderEd25519, publicJwkOf } from '../../shared/public-jwk.js';
import type { StampAlg } from '../../shared/constants.js';
import { nodeCompactCodec } from './compact.js';
import { CURVE_OF_ALG, isHmacAlg, keyFailure as fail, MIN_HMAC_SECRET_BYTES, WEBCRYPTO_HASH_OF, type CryptoPlatform } from './platform.js';
import { importClientKey } from './public-jwk.js';
import { verifySignature } from './signature.js';

const PRIVATE_KEY = 'is a private key; the verifier needs only the public half';

function fromKeyObject(key: unknown, where: string): KeyObject {
  if (key instanceof KeyObject) {
    // jose refuses a private KeyObject for verifying: whoever holds it can sign the stamps
    if (key.type === 'private') fail(where, `${PRIVATE_KEY} (createPublicKey(key))`);
    return key;
  }
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) {
    if (key.type === 'private') fail(where, PRIVATE_KEY);
    // its usages are its key_ops: the web verifier refuses one that may not verify, and so do we
    if (!key.usages.includes('verify')) fail(where, 'key must allow "verify"');
    return KeyObject.from(key);
  }
  return fail(where, 'key must be a KeyObject or CryptoKey');
}

function fromJwk(jwk: Readonly<Record<string, unknown>>, alg: StampAlg, where: string): KeyObject {
  if (isHmacAlg(alg)) {
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string') fail(where, `${alg} needs an oct key with "k"`);
    if (!isBase64url(jwk.k)) fail(where, '"k" is not base64url');
    const secret = Buffer.from(jwk.k, 'base64url');
    if (secret.length < MIN_HMAC_SECRET_BYTES) fail(where, `HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    return createSecretKey(secret);
  }
  if (jwk.kty !== 'EC' && jwk.kty !== 'OKP') fail(where, `${alg} needs an EC or OKP key`);
  const publicJwk = publicJwkOf(jwk);
  // a coordinate spelled in base64, padded or with a space decodes to the same point on Node and
  // is refused on the web (web-crypto.ts): refused here too, as "k" is
  if (publicJwk === undefined || !isBase64url(publicJwk.x) || (publicJwk.kty === 'EC' && !isBase64url(publicJwk.y))) {
    fail(where, 'is not a valid public JWK');
  }
  if (isSmallOrderEd25519(publicJwk)) fail(where, 'is an Ed25519 point of small order: one signature verifies every message under it');
  try {
    return createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch {
    return fail(where, 'is not a valid public JWK');
  }
}

/**
 * A CryptoKey's HMAC hash is part of the key (KeyObject.from drops it): one bound to another hash
 * than the alg names does not fit it — the web verifier refuses it (web-crypto.ts), and so do we.
 */
function checkCryptoKeyHash(key: unknown, alg: StampAlg, where: string): void {
  if (!isHmacAlg(alg) || typeof CryptoKey === 'undefined' || !(key instanceof CryptoKey)) return;
  const hash = (key.algorithm as { hash?: { name?: string } }).hash?.name;
  if (hash !== WEBCRYPTO_HASH_OF[alg]) fail(where, `key does not fit alg ${alg}`);
}

function checkKeyFitsAlg(key: KeyObject, alg: StampAlg, where: string): void {
  if (isHmacAlg(alg)) {
    if (key.type !== 'secret') fail(where, `${alg} needs a secret key`);
    if ((key.symmetricKeySize ?? 0) < MIN_HMAC_SECRET_BYTES) fail(where, `HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    return;
  }
  if (key.type === 'secret') fail(where, `${alg} needs a public key`);
  const details = key.asymmetricKeyDetails;
  const curve =
    key.asymmetricKeyType === 'ed25519'
      ? 'Ed25519'
      : details?.namedCurve === 'prime256v1'
        ? 'P-256'
        : details?.namedCurve === 'secp384r1'
          ? 'P-384'
          : undefined;
  if (curve !== CURVE_OF_ALG[alg]) fail(where, `key does not fit alg ${alg}`);
}

export const nodeCrypto: CryptoPlatform<KeyObject> = {
  name: 'node',
  codec: nodeCompactCodec,
  importKey(input, alg, where) {
    const given = 'key' in input && input.key !== undefined ? input.key : undefined;
    const key = given !== undefined ? fromKeyObject(given, where) : fromJwk(input, alg, where);
    checkKeyFitsAlg(key, alg, where);
    checkCryptoKeyHash(given, alg, where);
    return key;
  },
  importClientKey,
  verifySignature,
  sha256: (data) => createHash('sha256').update(data).digest('base64url'),
};
