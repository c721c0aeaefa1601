import { importJWK, type JWK, type KeyObject } from 'jose';
import { base64urlDecodedLength, decodeBase64url, isBase64url } from '../shared/base64url.js';
import { isKid, MIN_HMAC_SECRET_BYTES, STAMP_ALGS, type StampAlg } from '../shared/constants.js';
import { misusedKeyProblem } from '../shared/public-jwk.js';
import { warnIfSecretKeyInBrowser } from './hmac-warning.js';

/** A client key: a private JWK (or `oct`) carrying `kid` and `alg`, or a key object with them beside it. */
export type StampKeyInput = (JWK & { kid: string; alg: string }) | { key: CryptoKey | KeyObject | Uint8Array; kid: string; alg: StampAlg };

export interface SigningKey {
  readonly kid: string;
  readonly alg: StampAlg;
  readonly key: CryptoKey | KeyObject | Uint8Array;
}

function checkKidAlg(kid: unknown, alg: unknown): asserts alg is StampAlg {
  if (!isKid(kid)) throw new TypeError('key.kid must be 1–128 characters of [A-Za-z0-9._:-]');
  if (!(STAMP_ALGS as readonly unknown[]).includes(alg)) {
    throw new TypeError(`key.alg must be one of ${STAMP_ALGS.join(', ')}`);
  }
}

export function isKeyObjectInput(input: StampKeyInput): input is Extract<StampKeyInput, { key: unknown }> {
  return 'key' in input && typeof input.key === 'object' && input.key !== null;
}

/** A CryptoKey's usages are its key_ops: one that may not sign is refused at setup, not by jose at the first stamp. */
export function checkCryptoKeySigns(key: unknown, where: string): void {
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey && !key.usages.includes('sign')) throw new TypeError(`${where} must allow "sign"`);
}

const SHORT_SECRET = (where: string) => `${where} must be an HMAC secret of at least ${MIN_HMAC_SECRET_BYTES} bytes (every verifier refuses a shorter one)`;

/** An HMAC key's length in bytes where it says (secret bytes, a CryptoKey, a node:crypto KeyObject), else undefined. */
function secretBytesOf(key: unknown): number | undefined {
  if (key instanceof Uint8Array) return key.byteLength;
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) {
    const { name, length } = key.algorithm as { name: string; length?: number };
    return name === 'HMAC' && typeof length === 'number' ? length / 8 : undefined;
  }
  const size = (key as { type?: unknown; symmetricKeySize?: unknown } | null)?.symmetricKeySize;
  return (key as { type?: unknown }).type === 'secret' && typeof size === 'number' ? size : undefined;
}

/** A `{ key, kid, alg }` entry's key object: it may sign, and an HMAC one is long enough for a verifier to take. */
export function checkKeyObjectSigns(key: unknown): void {
  checkCryptoKeySigns(key, 'key.key');
  const bytes = secretBytesOf(key);
  if (bytes !== undefined && bytes < MIN_HMAC_SECRET_BYTES) throw new TypeError(SHORT_SECRET('key.key'));
}

/** The key type and curve each alg signs with (`EdDSA`: Ed25519, the one curve verifiers take). */
const JWK_TYPE_OF: Readonly<Record<StampAlg, { kty: string; crv?: string }>> = {
  HS256: { kty: 'oct' },
  HS384: { kty: 'oct' },
  HS512: { kty: 'oct' },
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
};

/**
 * What can be told of a JWK without importing it: a private key (or an `oct` secret) of the
 * type and curve its `alg` signs with, its members present. Whether the point is on the curve
 * only the import finds.
 */
export function checkPrivateJwk(jwk: Record<string, unknown>, alg: StampAlg, where = 'key'): void {
  const misused = misusedKeyProblem(jwk, 'sign');
  if (misused !== undefined) throw new TypeError(`${where}.${misused}`);
  const { kty, crv } = JWK_TYPE_OF[alg];
  if (kty === 'oct') {
    if (jwk.kty !== 'oct') throw new TypeError(`key.alg ${alg} needs an oct key (kty "oct")`);
    if (typeof jwk.k !== 'string') throw new TypeError(`${where} must be an oct JWK with its secret "k"`);
    // every verifier refuses a shorter secret at load (PROTOCOL §2.3): its stamps could only fail
    if (!isBase64url(jwk.k)) throw new TypeError(`${where}.k must be base64url`);
    if (base64urlDecodedLength(jwk.k) < MIN_HMAC_SECRET_BYTES) throw new TypeError(SHORT_SECRET(where));
    return;
  }
  if (jwk.kty === 'oct') throw new TypeError('key.alg of an oct key must be HS256, HS384 or HS512');
  if (jwk.kty !== kty || jwk.crv !== crv) throw new TypeError(`key.alg ${alg} needs an ${kty} key on ${crv} (kty "${kty}", crv "${crv}")`);
  if (!('d' in jwk)) throw new TypeError(`${where} must be a private JWK (it has no "d")`);
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string' || (kty === 'EC' && typeof jwk.y !== 'string')) {
    throw new TypeError(`${where} must be a private ${kty} JWK with string members d, x${kty === 'EC' ? ', y' : ''}`);
  }
}

/** The JWK as it is imported to sign: WebCrypto refuses a private key whose key_ops name anything else ("verify" too). */
function forSigning<J extends object>(jwk: J): J {
  return (jwk as { key_ops?: unknown }).key_ops === undefined ? jwk : { ...jwk, key_ops: ['sign'] };
}

/**
 * A ticket key's `privateKey` as it will sign (proofs and stamps): a private JWK is checked as a
 * stamp key's is — a TypeError naming `key.privateKey` at setup — and handed on with `key_ops`
 * narrowed to ["sign"], as `importSigningKey` imports one (WebCrypto refuses "verify" on a
 * private key). A key object is handed on as it is.
 */
export function ticketSigningKey<K>(privateKey: K, alg: StampAlg): K {
  checkCryptoKeySigns(privateKey, 'key.privateKey');
  if (typeof privateKey !== 'object' || privateKey === null || typeof (privateKey as { kty?: unknown }).kty !== 'string') return privateKey;
  const jwk = privateKey as Record<string, unknown>;
  // `key.alg …` in its errors is the ticket key's own alg; the rest is about this JWK
  checkPrivateJwk(jwk, alg, 'key.privateKey');
  return forSigning(jwk) as K;
}

/**
 * An `oct` JWK's secret as a non-extractable WebCrypto key. jose's importJWK hands an `oct` key
 * back as its raw bytes whatever `extractable` says, and the bytes are what `console.log(key)`
 * or `JSON.stringify(key)` of a loaded key would then print.
 */
function importHmacSecret(k: string, alg: StampAlg): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', decodeBase64url(k) as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['sign']);
}

/** Imports once; the returned key is reused for every stamp. */
export async function importSigningKey(input: StampKeyInput): Promise<SigningKey> {
  if (typeof input !== 'object' || input === null) throw new TypeError('key must be a JWK or { key, kid, alg }');
  checkKidAlg(input.kid, input.alg);
  warnIfSecretKeyInBrowser(input.alg);
  if (isKeyObjectInput(input)) {
    checkKeyObjectSigns(input.key);
    return { kid: input.kid, alg: input.alg, key: input.key };
  }
  const jwk = input as JWK;
  checkPrivateJwk(jwk as Record<string, unknown>, input.alg);
  let imported: CryptoKey | KeyObject | Uint8Array;
  try {
    imported = jwk.kty === 'oct' ? await importHmacSecret(jwk.k!, input.alg) : await importJWK(forSigning(jwk), input.alg, { extractable: false });
  } catch (cause) {
    // a WebCrypto DataError or a jose error, about a key the caller passed: a wrong option
    throw new TypeError(`key could not be imported as a ${input.alg} private key (see cause)`, { cause });
  }
  return { kid: input.kid, alg: input.alg, key: imported };
}
