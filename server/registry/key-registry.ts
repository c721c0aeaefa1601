import type { KeyObject } from 'node:crypto';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { misusedKeyProblem, publicJwkOf } from '../../shared/public-jwk.js';
import type { StampAlg } from '../../shared/schema.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { matchesClientPublicJwk } from '../../shared/token-checks.js';
import { compileTrust } from '../hints/trust.js';
import { algsOfClientKey, importClientKey, jwkThumbprint } from '../jws/public-jwk.js';
import type { KeyWithAlg } from '../verify/key-source.js';

export interface KeyRegistryOptions {
  /** Most keys held at once (default 10,000). When that many are live, `registerKey` throws rather than forget one. */
  maxKeys?: number;
  /** Seconds a key stays registered when `registerKey` is given no `ttl` (default 86,400: one day). */
  defaultTtl?: number;
  /** Clock in milliseconds (default `Date.now`); tests inject their own. */
  now?: () => number;
}

export interface RegisterKeyOptions {
  /** CIDRs the key may attest; an `ip` outside them is `ip-not-allowed` (403). Default: any. */
  allowedIps?: readonly string[];
  /** Seconds until the key is forgotten (1 to 31,536,000). Default: the registry's `defaultTtl`. */
  ttl?: number;
}

export interface RegisteredKey {
  /** The RFC 7638 thumbprint: the `kid` the client's stamps carry. */
  readonly kid: string;
  readonly alg: StampAlg;
  /** When the key is forgotten, in ms since the epoch (the registry's clock). */
  readonly expiresAt: number;
}

export interface KeyRegistry {
  /**
   * Registers a client's public key (EC P-256 or OKP Ed25519; `kid` absent or equal to the
   * thumbprint). Registering a key again replaces its `allowedIps` and restarts its TTL.
   * Throws TypeError for a key or option it refuses, `KeyRegistryFullError` when full.
   */
  registerKey(jwk: unknown, options?: RegisterKeyOptions): RegisteredKey;
  /** Forgets a key at once; true when it was registered. */
  unregisterKey(kid: string): boolean;
  /** kid → key for the verifier: `keys: registry.lookup`. Expired keys are unknown. */
  readonly lookup: (kid: string) => KeyWithAlg | undefined;
  /** Keys held, including expired ones not yet swept. */
  readonly size: number;
}

interface Entry {
  /** One object per registration, so the verifier's per-object import cache imports it once. */
  readonly key: KeyWithAlg;
  readonly expiresAt: number;
}

const MAX_KEYS_LIMIT = 10_000_000;
const MAX_TTL = 365 * 86_400;

const KEY_REGISTRY_OPTION_NAMES: OptionNames<KeyRegistryOptions> = Object.freeze({ maxKeys: true, defaultTtl: true, now: true });
const REGISTER_KEY_OPTION_NAMES: OptionNames<RegisterKeyOptions> = Object.freeze({ allowedIps: true, ttl: true });

function wholeNumber(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/**
 * An in-memory registry of browser keys (one process; share nothing across instances).
 * A page generates a key (`generateStampKey`), your authenticated route registers its public
 * JWK, and the verifier finds it by kid. It never evicts a live key to make room — a full
 * registry refuses, the way the replay store does, so an attacker who can register keys
 * cannot push a user's key out.
 */
export function createKeyRegistry(options: KeyRegistryOptions = {}): KeyRegistry {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, KEY_REGISTRY_OPTION_NAMES);
  const maxKeys = wholeNumber('maxKeys', options.maxKeys, 10_000, 1, MAX_KEYS_LIMIT);
  const defaultTtl = wholeNumber('defaultTtl', options.defaultTtl, 86_400, 1, MAX_TTL);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  const entries = new Map<string, Entry>();
  /** No held key expires before this (ms): until it has passed, a sweep would free nothing. */
  let earliestExpiry = Infinity;

  function sweep(at: number): void {
    let earliest = Infinity;
    for (const [kid, entry] of entries) {
      if (entry.expiresAt <= at) entries.delete(kid);
      else if (entry.expiresAt < earliest) earliest = entry.expiresAt;
    }
    earliestExpiry = earliest;
  }

  function registerKey(jwk: unknown, registerOptions: RegisterKeyOptions = {}): RegisteredKey {
    if (typeof registerOptions !== 'object' || registerOptions === null) throw new TypeError('options must be an object');
    rejectUnknownOptions(registerOptions, REGISTER_KEY_OPTION_NAMES);
    const ttl = wholeNumber('ttl', registerOptions.ttl, defaultTtl, 1, MAX_TTL);
    const { allowedIps } = registerOptions;
    if (allowedIps !== undefined) {
      if (!Array.isArray(allowedIps) || !allowedIps.every((c) => typeof c === 'string')) throw new TypeError('allowedIps must be an array of CIDR strings');
      compileTrust(allowedIps, 'allowedIps'); // a bad CIDR fails here, not at the first request
    }
    const parsed = parseRegistryKey(jwk);
    const at = now();
    if (!entries.has(parsed.kid) && entries.size >= maxKeys) {
      // a pass over maxKeys keys, paid only once a key may have expired: while every key is live,
      // a refusal is O(1) (it swept on every refused call: ~1 ms at 10,000 keys, 5 at 100,000)
      if (earliestExpiry <= at) sweep(at);
      if (entries.size >= maxKeys) throw new KeyRegistryFullError();
    }
    const key: KeyWithAlg = Object.freeze({
      key: parsed.keyObject,
      alg: parsed.alg,
      kid: parsed.kid,
      ...(allowedIps === undefined ? {} : { allowed_ips: Object.freeze([...allowedIps]) }),
    });
    const expiresAt = at + ttl * 1000;
    entries.set(parsed.kid, { key, expiresAt });
    if (expiresAt < earliestExpiry) earliestExpiry = expiresAt;
    return Object.freeze({ kid: parsed.kid, alg: parsed.alg, expiresAt });
  }

  function unregisterKey(kid: string): boolean {
    return entries.delete(kid);
  }

  function lookup(kid: string): KeyWithAlg | undefined {
    const entry = entries.get(kid);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(kid);
      return undefined;
    }
    return entry.key;
  }

  return {
    registerKey,
    unregisterKey,
    lookup,
    get size() {
      return entries.size;
    },
  };
}

/** A registered public key, checked and imported: what `lookup` hands the verifier. */
export interface RegistryKey {
  readonly kid: string;
  readonly alg: StampAlg;
  readonly keyObject: KeyObject;
  /** The RFC 7638 members only: nothing of what the caller sent beyond them is kept. */
  readonly publicJwk: Readonly<ClientPublicJwk>;
}

function refuse(what: string): never {
  // fixed texts: the JWK usually comes straight from an HTTP body and is never echoed
  throw new TypeError(`jwk: ${what}`);
}

/**
 * Checks a JWK a client asks to register: a public EC P-256 or OKP Ed25519 key (no private
 * member, no `oct`), its `kid` — when given — equal to its RFC 7638 thumbprint, its `alg` —
 * when given — one its curve signs with. Anything else is a TypeError.
 */
export function parseRegistryKey(input: unknown): RegistryKey {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) refuse('must be a JWK object');
  const jwk = input as Record<string, unknown>;
  if (Object.hasOwn(jwk, 'd') || Object.hasOwn(jwk, 'k') || jwk.kty === 'oct') refuse('must be a public key (private and oct keys are refused)');
  if (!matchesClientPublicJwk(jwk)) refuse('must be a public EC P-256 or OKP Ed25519 key');
  const members: ClientPublicJwk = publicJwkOf(jwk as ClientPublicJwk);
  const misused = misusedKeyProblem(jwk, 'verify');
  if (misused !== undefined) refuse(misused);
  const kid = jwkThumbprint(members);
  if (jwk.kid !== undefined && jwk.kid !== kid) refuse('kid must be the RFC 7638 SHA-256 thumbprint of the key (or absent)');
  const algs = algsOfClientKey(members);
  const alg = jwk.alg === undefined ? algs[0]! : (algs.find((a) => a === jwk.alg) ?? refuse('alg does not fit the key'));
  const keyObject = importClientKey(members) ?? refuse('is not a valid point on its curve (or one of small order, which anyone can sign for)');
  return { kid, alg, keyObject, publicJwk: Object.freeze(members) };
}

/**
 * The registry holds `maxKeys` live keys and will not forget one to make room: the caller
 * decides (answer 503, raise the cap, shorten TTLs). A fixed message, nothing from the key.
 */
export class KeyRegistryFullError extends Error {
  override readonly name = 'KeyRegistryFullError';
  readonly code = 'ERR_IPSTAMP_REGISTRY_FULL' as const;

  constructor() {
    super('the key registry is full of live keys');
  }
}

export function isKeyRegistryFullError(value: unknown): value is KeyRegistryFullError {
  return value instanceof KeyRegistryFullError;
}
