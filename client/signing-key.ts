import { importJWK, type JWK, type KeyObject } from 'jose';
import { isKid, STAMP_ALGS, type StampAlg } from '../shared/constants.js';
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

function isKeyObjectInput(input: StampKeyInput): input is Extract<StampKeyInput, { key: unknown }> {
  return 'key' in input && typeof input.key === 'object' && input.key !== null;
}

/** Imports once; the returned key is reused for every stamp. */
export async function importSigningKey(input: StampKeyInput): Promise<SigningKey> {
  if (typeof input !== 'object' || input === null) throw new TypeError('key must be a JWK or { key, kid, alg }');
  checkKidAlg(input.kid, input.alg);
  warnIfSecretKeyInBrowser(input.alg);
  if (isKeyObjectInput(input)) return { kid: input.kid, alg: input.alg, key: input.key };
  const jwk = input as JWK;
  if (jwk.kty === 'oct') {
    if (!jwk.alg?.startsWith('HS')) throw new TypeError('key.alg of an oct key must be HS256, HS384 or HS512');
  } else if (!('d' in jwk)) {
    throw new TypeError('key must be a private JWK (it has no "d")');
  }
  const imported = await importJWK(jwk, input.alg, { extractable: false });
  return { kid: input.kid, alg: input.alg, key: imported };
}
