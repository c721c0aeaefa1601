/**
 * Verification keys (PROTOCOL.md §5 steps 4–5): the `keys` option — a JWK Set or a function
 * kid → key — compiled into a key source, and each key checked and imported once, at load
 * time, so the hot path only looks up a ready KeyObject with its pinned alg.
 */
import { isKid, STAMP_ALGS, type StampAlg } from '../../shared/constants.js';
import { misusedKeyProblem, privateMemberOf } from '../../shared/public-jwk.js';
import type { TrustMatcher } from '../hints/trust-ranges.js';
import { MIN_HMAC_SECRET_BYTES } from '../jws/platform.js';
import type { VerifyPlatform } from './platform.js';

/**
 * A verification key ready for the hot path: imported once, alg pinned, allowed_ips compiled.
 * `keyObject` is the platform's key: a node:crypto KeyObject on Node, a WebKey on the web.
 */
export interface VerifierKey<Key = unknown> {
  readonly kid: string;
  readonly alg: StampAlg;
  readonly keyObject: Key;
  readonly allowedIps?: TrustMatcher;
}

/**
 * A key object as node:crypto makes it (structurally, so the type needs no `node:` module):
 * accepted by the Node verifier, refused by the web one, which takes a CryptoKey.
 */
export interface NodeKeyObject {
  readonly type: 'secret' | 'public' | 'private';
  readonly asymmetricKeyType?: string | undefined;
}

/** What a JWK Set member or a key function may give: a public JWK / oct JWK, or a key object with its alg. */
export interface KeyWithAlg {
  key: NodeKeyObject | CryptoKey;
  alg: StampAlg;
  kid?: string;
  allowed_ips?: readonly string[];
}
export type VerifierKeyInput = Record<string, unknown> | KeyWithAlg;

export { MIN_HMAC_SECRET_BYTES };

/** A JWK Set (RFC 7517 §5) object. */
export interface JwkSet {
  keys: readonly Record<string, unknown>[];
}

/** The `keys` option: a JWK Set, or a function from kid to a key (sync or async) — a database, a registry. */
export type KeysOption = JwkSet | ((kid: string) => VerifierKeyInput | undefined | null | Promise<VerifierKeyInput | undefined | null>);

/** Resolves a kid to a ready key; undefined means unknown. */
export type KeySource<Key = unknown> = (kid: string) => VerifierKey<Key> | undefined | Promise<VerifierKey<Key> | undefined>;

/** `name` is the option the set came from, for errors: `keys` (`keys.keys[0]: …`), or an issuer's `issuers["https://edge.example.com"]`. */
export function compileKeySource<Key>(
  option: KeysOption | undefined,
  platform: Pick<VerifyPlatform<Key>, 'crypto' | 'compileTrust'>,
  name = 'keys',
): KeySource<Key> {
  if (typeof option === 'function') return functionKeySource(option, platform);
  if (typeof option !== 'object' || option === null || !Array.isArray(option.keys)) {
    throw new TypeError(`${name} must be a JWK Set ({ keys: [...] }) or a function kid → key`);
  }
  const byKid = new Map<string, VerifierKey<Key>>();
  option.keys.forEach((jwk: VerifierKeyInput, i) => {
    const key = compileVerifierKey(jwk, `${name}.keys[${i}]`, platform);
    if (byKid.has(key.kid)) throw new TypeError(`${name}.keys[${i}]: duplicate kid`);
    byKid.set(key.kid, key);
  });
  return (kid) => byKid.get(kid);
}

/**
 * Compiles what the function returns once per returned object, so a function that hands
 * back the same JWK object every time pays the import once. An object without a `kid` is the
 * key of whichever kid it was returned for: one such object may answer for many kids, so its
 * compiled key is kept apart from the kid, and each lookup gets the kid it asked for.
 */
function functionKeySource<Key>(
  lookup: Extract<KeysOption, (kid: string) => unknown>,
  platform: Pick<VerifyPlatform<Key>, 'crypto' | 'compileTrust'>,
): KeySource<Key> {
  const compiled = new WeakMap<object, VerifierKey<Key> | null>();
  const compile = (kid: string, input: VerifierKeyInput | undefined | null): VerifierKey<Key> | undefined => {
    if (input === undefined || input === null) return undefined;
    let key = compiled.get(input);
    if (key === undefined) {
      try {
        key = compileVerifierKey(input, `keys(${JSON.stringify(kid)})`, platform, typeof input.kid === 'string' ? undefined : kid);
      } catch {
        key = null; // a key that cannot be used is an unknown key, not a crash
      }
      compiled.set(input, key);
    }
    if (key === null) return undefined;
    if (typeof input.kid !== 'string') return key.kid === kid ? key : { ...key, kid };
    // the function answered for this kid; a key that names another kid does not count
    return key.kid === kid ? key : undefined;
  };
  return (kid) => {
    const found = lookup(kid);
    return found instanceof Promise ? found.then((input) => compile(kid, input)) : compile(kid, found);
  };
}

function fail(where: string, what: string): never {
  throw new TypeError(`${where}: ${what}`);
}

/**
 * Turns one configured key into a VerifierKey, or throws TypeError naming `where` (e.g.
 * `keys[2]`). Every check a key can fail happens here, at load time, never per request.
 */
export function compileVerifierKey<Key>(
  input: VerifierKeyInput,
  where: string,
  platform: Pick<VerifyPlatform<Key>, 'crypto' | 'compileTrust'>,
  kidOverride?: string,
): VerifierKey<Key> {
  if (typeof input !== 'object' || input === null) fail(where, 'must be a JWK object');
  const alg = input.alg as StampAlg;
  if (!(STAMP_ALGS as readonly unknown[]).includes(alg)) fail(where, `alg must be one of ${STAMP_ALGS.join(', ')}`);
  const kid = kidOverride ?? (input.kid as string);
  if (!isKid(kid)) fail(where, 'kid must be 1–128 characters of [A-Za-z0-9._:-]');
  const allowedRaw = (input as { allowed_ips?: unknown }).allowed_ips;
  let allowedIps: TrustMatcher | undefined;
  if (allowedRaw !== undefined) {
    if (!Array.isArray(allowedRaw) || !allowedRaw.every((c) => typeof c === 'string')) {
      fail(where, 'allowed_ips must be an array of CIDR strings');
    }
    allowedIps = platform.compileTrust(allowedRaw as string[], `${where}.allowed_ips`);
  }
  if (!('key' in input && input.key !== undefined)) {
    // a verifier that holds a client's private key can sign that client's stamps: jose refuses a
    // private key for verifying, and so do we, in every form it can be given
    const member = privateMemberOf(input);
    if (member !== undefined) fail(where, `is a private key (it has "${member}"); the verifier needs only the public half`);
    const misused = misusedKeyProblem(input as Readonly<Record<string, unknown>>, 'verify');
    if (misused !== undefined) fail(where, misused);
  }
  const keyObject = platform.crypto.importKey(input as Readonly<Record<string, unknown>>, alg, where);
  return allowedIps ? { kid, alg, keyObject, allowedIps } : { kid, alg, keyObject };
}
