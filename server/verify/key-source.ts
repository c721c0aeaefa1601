/**
 * Verification keys (PROTOCOL.md §5 steps 4–5): the `keys` option — a JWK Set or a function
 * kid → key — compiled into a key source, and each key checked and imported once, at load
 * time, so the hot path only looks up a ready KeyObject with its pinned alg.
 */
import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { publicJwkOf } from '../../shared/public-jwk.js';
import { HMAC_ALGS, kidSchema, STAMP_ALGS, type StampAlg } from '../../shared/schema.js';
import { compileTrust, type TrustMatcher } from '../hints/trust.js';

/** A verification key ready for the hot path: imported once, alg pinned, allowed_ips compiled. */
export interface VerifierKey {
  readonly kid: string;
  readonly alg: StampAlg;
  readonly keyObject: KeyObject;
  readonly allowedIps?: TrustMatcher;
}

/** What a JWK Set member or a key function may give: a public JWK / oct JWK, or a key object with its alg. */
export interface KeyWithAlg {
  key: KeyObject | CryptoKey;
  alg: StampAlg;
  kid?: string;
  allowed_ips?: readonly string[];
}
export type VerifierKeyInput = Record<string, unknown> | KeyWithAlg;

export const MIN_HMAC_SECRET_BYTES = 32;

/** A JWK Set (RFC 7517 §5) object. */
export interface JwkSet {
  keys: readonly Record<string, unknown>[];
}

/** The `keys` option: a JWK Set, or a function from kid to a key (sync or async) — a database, a registry. */
export type KeysOption = JwkSet | ((kid: string) => VerifierKeyInput | undefined | null | Promise<VerifierKeyInput | undefined | null>);

/** Resolves a kid to a ready key; undefined means unknown. */
export type KeySource = (kid: string) => VerifierKey | undefined | Promise<VerifierKey | undefined>;

export function compileKeySource(option: KeysOption | undefined): KeySource {
  if (typeof option === 'function') return functionKeySource(option);
  if (typeof option !== 'object' || option === null || !Array.isArray(option.keys)) {
    throw new TypeError('keys must be a JWK Set ({ keys: [...] }) or a function kid → key');
  }
  const byKid = new Map<string, VerifierKey>();
  option.keys.forEach((jwk: VerifierKeyInput, i) => {
    const key = compileVerifierKey(jwk, `keys.keys[${i}]`);
    if (byKid.has(key.kid)) throw new TypeError(`keys.keys[${i}]: duplicate kid`);
    byKid.set(key.kid, key);
  });
  return (kid) => byKid.get(kid);
}

/**
 * Compiles what the function returns once per returned object, so a function that hands
 * back the same JWK object every time pays the import once.
 */
function functionKeySource(lookup: Extract<KeysOption, (kid: string) => unknown>): KeySource {
  const compiled = new WeakMap<object, VerifierKey | null>();
  const compile = (kid: string, input: VerifierKeyInput | undefined | null): VerifierKey | undefined => {
    if (input === undefined || input === null) return undefined;
    let key = compiled.get(input);
    if (key === undefined) {
      try {
        key = compileVerifierKey(input, `keys(${JSON.stringify(kid)})`, typeof input.kid === 'string' ? undefined : kid);
      } catch {
        key = null; // a key that cannot be used is an unknown key, not a crash
      }
      compiled.set(input, key);
    }
    // the function answered for this kid; a key that names another kid does not count
    return key !== null && key.kid === kid ? key : undefined;
  };
  return (kid) => {
    const found = lookup(kid);
    return found instanceof Promise ? found.then((input) => compile(kid, input)) : compile(kid, found);
  };
}

const CURVE_OF_ALG: Partial<Record<StampAlg, string>> = { ES256: 'P-256', ES384: 'P-384', EdDSA: 'Ed25519', Ed25519: 'Ed25519' };

function isHmac(alg: StampAlg): boolean {
  return (HMAC_ALGS as readonly string[]).includes(alg);
}

function fail(where: string, what: string): never {
  throw new TypeError(`${where}: ${what}`);
}

/**
 * Turns one configured key into a VerifierKey, or throws TypeError naming `where` (e.g.
 * `keys[2]`). Every check a key can fail happens here, at load time, never per request.
 */
export function compileVerifierKey(input: VerifierKeyInput, where: string, kidOverride?: string): VerifierKey {
  if (typeof input !== 'object' || input === null) fail(where, 'must be a JWK object');
  const alg = input.alg as StampAlg;
  if (!(STAMP_ALGS as readonly unknown[]).includes(alg)) fail(where, `alg must be one of ${STAMP_ALGS.join(', ')}`);
  const kid = kidOverride ?? (input.kid as string);
  if (!kidSchema.safeParse(kid).success) fail(where, 'kid must be 1–128 characters of [A-Za-z0-9._:-]');
  const allowedRaw = (input as { allowed_ips?: unknown }).allowed_ips;
  let allowedIps: TrustMatcher | undefined;
  if (allowedRaw !== undefined) {
    if (!Array.isArray(allowedRaw) || !allowedRaw.every((c) => typeof c === 'string')) {
      fail(where, 'allowed_ips must be an array of CIDR strings');
    }
    allowedIps = compileTrust(allowedRaw as string[], `${where}.allowed_ips`);
  }
  const keyObject = 'key' in input && input.key !== undefined ? fromKeyObject(input.key, where) : fromJwk(input as Record<string, unknown>, alg, where);
  checkKeyFitsAlg(keyObject, alg, where);
  return allowedIps ? { kid, alg, keyObject, allowedIps } : { kid, alg, keyObject };
}

function fromKeyObject(key: unknown, where: string): KeyObject {
  if (key instanceof KeyObject) return key;
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) return KeyObject.from(key);
  return fail(where, 'key must be a KeyObject or CryptoKey');
}

function fromJwk(jwk: Record<string, unknown>, alg: StampAlg, where: string): KeyObject {
  if (isHmac(alg)) {
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string') fail(where, `${alg} needs an oct key with "k"`);
    if (!/^[A-Za-z0-9_-]*$/.test(jwk.k)) fail(where, '"k" is not base64url');
    const secret = Buffer.from(jwk.k, 'base64url');
    if (secret.length < MIN_HMAC_SECRET_BYTES) fail(where, `HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    return createSecretKey(secret);
  }
  if (jwk.kty !== 'EC' && jwk.kty !== 'OKP') fail(where, `${alg} needs an EC or OKP key`);
  const publicJwk = publicJwkOf(jwk);
  if (publicJwk === undefined) fail(where, 'is not a valid public JWK');
  try {
    return createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch {
    return fail(where, 'is not a valid public JWK');
  }
}

function checkKeyFitsAlg(key: KeyObject, alg: StampAlg, where: string): void {
  if (isHmac(alg)) {
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
