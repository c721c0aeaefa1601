/**
 * The web platform (platform.ts): WebCrypto (`crypto.subtle`) for HMAC, ECDSA P-256/P-384 and
 * Ed25519, and web-standard bytes — no `node:` module, no Buffer. Runs on Workers, Deno, Bun,
 * browsers and Node alike. What differs from node-crypto.ts is when a key is imported:
 * `crypto.subtle.importKey` is asynchronous, so every check that can be made on the JWK's
 * members is made at load time (kty, crv, lengths, HMAC secret size), and the import itself
 * runs then too, in the background; a key WebCrypto still refuses (an EC point off its curve)
 * verifies nothing — every signature under it is `bad-signature` — where Node refuses it at load.
 */
import { base64urlDecodedLength, isBase64url } from '../../shared/base64url.js';
import type { StampAlg } from '../../shared/constants.js';
import { isSmallOrderEd25519, isSmallOrderEd25519Encoding, publicJwkOf, type PublicJwk } from '../../shared/public-jwk.js';
import { base64urlOf, latin1Bytes, webCompactCodec } from './web-bytes.js';
import { CURVE_OF_ALG, isHmacAlg, keyFailure as fail, MIN_HMAC_SECRET_BYTES, WEBCRYPTO_HASH_OF, type CryptoPlatform } from './platform.js';

/** A key on the web: its WebCrypto import under way (undefined once WebCrypto refused it). */
export interface WebKey {
  readonly cryptoKey: Promise<CryptoKey | undefined>;
}

type Subtle = SubtleCrypto;
const subtle = (): Subtle => globalThis.crypto.subtle;

const SIGNATURE_LENGTH: Partial<Record<StampAlg, number>> = { ES256: 64, ES384: 96, EdDSA: 64, Ed25519: 64 };
// the length of x (and y) of each curve's public point, base64url without padding
const COORDINATE_LENGTH: Record<string, number> = { 'P-256': 43, 'P-384': 64, Ed25519: 43 };

function importParams(alg: StampAlg): AlgorithmIdentifier | EcKeyImportParams | HmacImportParams {
  if (isHmacAlg(alg)) return { name: 'HMAC', hash: WEBCRYPTO_HASH_OF[alg]! };
  if (alg === 'ES256') return { name: 'ECDSA', namedCurve: 'P-256' };
  if (alg === 'ES384') return { name: 'ECDSA', namedCurve: 'P-384' };
  return { name: 'Ed25519' };
}

function verifyParams(alg: StampAlg): AlgorithmIdentifier | EcdsaParams {
  if (isHmacAlg(alg)) return { name: 'HMAC' };
  if (alg === 'ES256' || alg === 'ES384') return { name: 'ECDSA', hash: WEBCRYPTO_HASH_OF[alg]! };
  return { name: 'Ed25519' };
}

function settled(promise: Promise<CryptoKey>): WebKey {
  // a refused import must not surface as an unhandled rejection
  return { cryptoKey: promise.then(undefined, () => undefined) };
}

/** The checks Node makes on a KeyObject, made on a CryptoKey's algorithm. */
function checkCryptoKey(key: CryptoKey, alg: StampAlg, where: string): void {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string }; length?: number };
  if (isHmacAlg(alg)) {
    if (key.type !== 'secret' || algorithm.name !== 'HMAC') fail(where, `${alg} needs a secret key`);
    if ((algorithm.length ?? 0) < MIN_HMAC_SECRET_BYTES * 8) fail(where, `HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    if (algorithm.hash?.name !== WEBCRYPTO_HASH_OF[alg]) fail(where, `key does not fit alg ${alg}`);
  } else {
    if (key.type === 'secret') fail(where, `${alg} needs a public key`);
    if (key.type === 'private') fail(where, 'is a private key; the verifier needs only the public half');
    const curve = algorithm.name === 'Ed25519' || algorithm.name === 'EdDSA' ? 'Ed25519' : algorithm.namedCurve;
    if (curve !== CURVE_OF_ALG[alg]) fail(where, `key does not fit alg ${alg}`);
  }
  if (!key.usages.includes('verify')) fail(where, 'key must allow "verify"');
}

function importJwk(jwk: Readonly<Record<string, unknown>>, alg: StampAlg, where: string): WebKey {
  if (isHmacAlg(alg)) {
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string') fail(where, `${alg} needs an oct key with "k"`);
    if (!isBase64url(jwk.k)) fail(where, '"k" is not base64url');
    if (base64urlDecodedLength(jwk.k) < MIN_HMAC_SECRET_BYTES) fail(where, `HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    return settled(subtle().importKey('jwk', { kty: 'oct', k: jwk.k }, importParams(alg), false, ['verify']));
  }
  if (jwk.kty !== 'EC' && jwk.kty !== 'OKP') fail(where, `${alg} needs an EC or OKP key`);
  const publicJwk = publicJwkOf(jwk);
  if (publicJwk === undefined || !wellFormedPublicJwk(publicJwk)) fail(where, 'is not a valid public JWK');
  if (isSmallOrderEd25519(publicJwk)) fail(where, 'is an Ed25519 point of small order: one signature verifies every message under it');
  if (publicJwk.crv !== CURVE_OF_ALG[alg] || (publicJwk.kty === 'OKP') !== (publicJwk.crv === 'Ed25519')) fail(where, `key does not fit alg ${alg}`);
  return settled(subtle().importKey('jwk', publicJwk, importParams(alg), false, ['verify']));
}

/** The members' shapes WebCrypto would refuse anyway, checked while we can still throw. */
function wellFormedPublicJwk(jwk: PublicJwk): boolean {
  const length = COORDINATE_LENGTH[jwk.crv];
  if (length === undefined || (jwk.crv === 'Ed25519') !== (jwk.kty === 'OKP')) return false;
  const coordinateOk = (c: string) => c.length === length && isBase64url(c);
  return coordinateOk(jwk.x) && (jwk.kty === 'OKP' || coordinateOk(jwk.y));
}

/**
 * Does WebCrypto verify with this key at all? Deno's WebCrypto (2.9) imports an EC point that is
 * not on its curve — WebCrypto asks a DataError there, and Bun, workerd and Node raise it — and
 * throws only when the key is used. One check of a dummy signature tells such a key apart (a
 * real key answers false), so a ticket whose `cnf.jwk` is off its curve is `bad-ticket` on every
 * runtime (PROTOCOL.md §7.4 item 5; node-crypto.ts refuses it at import). Once per ticket: a
 * verified ticket is remembered by its text (ticket-verifier.ts).
 */
async function verifiesAtAll(alg: StampAlg, key: CryptoKey): Promise<boolean> {
  try {
    await subtle().verify(verifyParams(alg), key, new Uint8Array(SIGNATURE_LENGTH[alg] ?? 64).fill(1), new Uint8Array(0));
    return true;
  } catch {
    return false;
  }
}

export const webCrypto: CryptoPlatform<WebKey> = {
  name: 'web',
  codec: webCompactCodec,
  importKey(input, alg, where) {
    if ('key' in input && input.key !== undefined) {
      const key = input.key;
      if (typeof CryptoKey === 'undefined' || !(key instanceof CryptoKey)) return fail(where, 'key must be a CryptoKey');
      checkCryptoKey(key, alg, where);
      return { cryptoKey: Promise.resolve(key) };
    }
    return importJwk(input, alg, where);
  },
  async importClientKey(jwk) {
    const publicJwk = publicJwkOf(jwk);
    if (publicJwk === undefined || !wellFormedPublicJwk(publicJwk) || isSmallOrderEd25519(publicJwk)) return undefined;
    const alg: StampAlg = publicJwk.kty === 'EC' ? 'ES256' : 'EdDSA';
    const cryptoKey = await settled(subtle().importKey('jwk', publicJwk, importParams(alg), false, ['verify'])).cryptoKey;
    if (cryptoKey === undefined || !(await verifiesAtAll(alg, cryptoKey))) return undefined;
    return { cryptoKey: Promise.resolve(cryptoKey) };
  },
  async verifySignature(alg, key, signingInput, signature) {
    const expected = SIGNATURE_LENGTH[alg];
    if (expected !== undefined && signature.length !== expected) return false;
    // R of small order: refused on every platform (signature.ts)
    if (CURVE_OF_ALG[alg] === 'Ed25519' && isSmallOrderEd25519Encoding(signature.subarray(0, 32))) return false;
    const cryptoKey = await key.cryptoKey;
    if (cryptoKey === undefined) return false;
    try {
      return await subtle().verify(verifyParams(alg), cryptoKey, signature as Uint8Array<ArrayBuffer>, latin1Bytes(signingInput));
    } catch {
      return false;
    }
  },
  async sha256(data) {
    const bytes = (typeof data === 'string' ? new TextEncoder().encode(data) : data) as Uint8Array<ArrayBuffer>;
    return base64urlOf(new Uint8Array(await subtle().digest('SHA-256', bytes)));
  },
};
