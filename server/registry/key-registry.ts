import { compileTrust } from '../hints/trust.js';
import type { KeyWithAlg } from '../verify/verifier-key.js';
import type { StampAlg } from '../../shared/schema.js';
import { KeyRegistryFullError } from './registry-error.js';
import { parseRegistryKey } from './registry-key.js';

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
  const maxKeys = wholeNumber('maxKeys', options.maxKeys, 10_000, 1, MAX_KEYS_LIMIT);
  const defaultTtl = wholeNumber('defaultTtl', options.defaultTtl, 86_400, 1, MAX_TTL);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  const entries = new Map<string, Entry>();

  function sweep(at: number): void {
    for (const [kid, entry] of entries) if (entry.expiresAt <= at) entries.delete(kid);
  }

  function registerKey(jwk: unknown, registerOptions: RegisterKeyOptions = {}): RegisteredKey {
    if (typeof registerOptions !== 'object' || registerOptions === null) throw new TypeError('options must be an object');
    const ttl = wholeNumber('ttl', registerOptions.ttl, defaultTtl, 1, MAX_TTL);
    const { allowedIps } = registerOptions;
    if (allowedIps !== undefined) {
      if (!Array.isArray(allowedIps) || !allowedIps.every((c) => typeof c === 'string')) throw new TypeError('allowedIps must be an array of CIDR strings');
      compileTrust(allowedIps, 'allowedIps'); // a bad CIDR fails here, not at the first request
    }
    const parsed = parseRegistryKey(jwk);
    const at = now();
    if (!entries.has(parsed.kid) && entries.size >= maxKeys) {
      sweep(at); // bounded by maxKeys, and only paid when full
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
