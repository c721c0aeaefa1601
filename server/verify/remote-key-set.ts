/**
 * Verification keys from a JWK Set URL (key rotation without restarts). jose's remote JWK Set
 * fetches (timeout, no redirects, status and shape checked); when to fetch is counted by
 * keySetFetches (key-set-fetches.ts), whose waits a clock step cannot stretch; the keys themselves are compiled here, all at once, with the rules of the `keys`
 * option (key-set.ts): each key's `alg` is pinned by the set, never taken from a stamp.
 *
 * When it fetches: once at the first lookup; again for a kid it does not know, at most once per
 * `cooldownMs` — a flood of random kids costs the source one request per cooldown, not one per
 * stamp; and in the background when the set is older than `maxAgeMs` (known kids are answered
 * from the cache meanwhile). A failed fetch — unreachable, timeout, not 200, not a JWK Set, a
 * key that does not pass — keeps the keys in use, is reported to `onError`, and holds further
 * fetches off for `cooldownMs` too (jose would retry a failing source on every unknown kid).
 * A kid that is not there after all that is `unknown-key`: fail closed.
 */
import { createRemoteJWKSet } from 'jose/jwks/remote';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import type { KeyWithAlg } from './key-source.js';
import { compileJwkSet, mergeKeySets, type CompiledEntry, type KeySetChange } from './key-set.js';
import { fetchFailure, KeySetFetchError, keySetFetches } from './key-set-fetches.js';
import { keySetUrl } from './key-set-url.js';

export interface RemoteKeySetOptions {
  /** Least time between two fetches that unknown kids (or failures) can cause, ms. Default 30000. */
  cooldownMs?: number;
  /** Age after which a fetched set is refreshed in the background, ms. Default 600000 (10 min). */
  maxAgeMs?: number;
  /** Longest wait for the whole answer, ms. Default 5000. */
  timeoutMs?: number;
  /** Sent with every fetch (an `Authorization` header, say). */
  headers?: Readonly<Record<string, string>>;
  /** Told every failed fetch; the keys in use stay. Default: none (a lookup just misses). */
  onError?: (error: KeySetFetchError) => void;
  /** Told every set taken into use, with what changed. */
  onReload?: (change: KeySetChange) => void;
}

export interface RemoteKeySet {
  /** kid → key, for the verifier: `keys: remoteKeySet.lookup`. Answers at once for a kid it holds. */
  readonly lookup: (kid: string) => KeyWithAlg | undefined | Promise<KeyWithAlg | undefined>;
  /** Fetches now, whatever the cooldown (on SIGHUP, say). Rejects with a KeySetFetchError; the keys in use stay. */
  reload(): Promise<KeySetChange>;
  /** The kids held now. */
  readonly kids: readonly string[];
  /** The URL without its query (a token there stays out of logs), normalized. */
  readonly url: string;
}

const REMOTE_KEY_SET_OPTION_NAMES: OptionNames<RemoteKeySetOptions> = Object.freeze({
  cooldownMs: true,
  maxAgeMs: true,
  timeoutMs: true,
  headers: true,
  onError: true,
  onReload: true,
});

function milliseconds(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a whole number of milliseconds from ${min} to ${max}`);
  }
  return value;
}

/**
 * Keys from a JWK Set URL. Throws TypeError for a wrong option; nothing is fetched until the
 * first lookup or `reload()`.
 */
export function createRemoteKeySet(url: string | URL, options: RemoteKeySetOptions = {}): RemoteKeySet {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, REMOTE_KEY_SET_OPTION_NAMES);
  const target = keySetUrl(url);
  const cooldownMs = milliseconds('cooldownMs', options.cooldownMs, 30_000, 0, 86_400_000);
  const maxAgeMs = milliseconds('maxAgeMs', options.maxAgeMs, 600_000, 1000, 7 * 86_400_000);
  const timeoutMs = milliseconds('timeoutMs', options.timeoutMs, 5000, 1, 60_000);
  for (const name of ['onError', 'onReload'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`${name} must be a function`);
  }
  if (options.headers !== undefined && (typeof options.headers !== 'object' || options.headers === null)) {
    throw new TypeError('headers must be an object of header names to values');
  }
  // messages name the URL without its query: a token there would end up in logs
  const shown = `${target.origin}${target.pathname}`;
  const remote = createRemoteJWKSet(target, {
    cooldownDuration: cooldownMs,
    cacheMaxAge: maxAgeMs,
    timeoutDuration: timeoutMs,
    ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
  });

  let entries = new Map<string, CompiledEntry>();

  const report = (error: KeySetFetchError): void => {
    try {
      options.onError?.(error);
    } catch {
      // a throwing logger must not turn a kept key set into a crash
    }
  };

  async function fetchSet(): Promise<KeySetChange> {
    try {
      try {
        await remote.reload();
      } catch (error) {
        throw new KeySetFetchError('ERR_IPSTAMP_KEYS_FETCH', `${shown}: ${fetchFailure(error)}`, { cause: error });
      }
      let compiled: Map<string, CompiledEntry>;
      try {
        compiled = compileJwkSet(remote.jwks());
      } catch (error) {
        throw new KeySetFetchError('ERR_IPSTAMP_KEYS_INVALID', `${shown}: ${(error as Error).message}`);
      }
      const merged = mergeKeySets(entries, compiled);
      entries = merged.entries;
      try {
        options.onReload?.(merged.change);
      } catch {
        // the new keys are in use whatever the listener does
      }
      return merged.change;
    } catch (error) {
      const failure = error instanceof KeySetFetchError ? error : new KeySetFetchError('ERR_IPSTAMP_KEYS_FETCH', `${shown}: ${String(error)}`);
      report(failure);
      throw failure;
    }
  }

  /** One fetch at a time, every caller waiting for the same one; a failure holds fetches off for the cooldown. */
  const fetches = keySetFetches(cooldownMs, fetchSet);
  const after = (kid: string) => (fetched: Promise<unknown>) =>
    fetched.then(
      () => entries.get(kid)?.key,
      () => entries.get(kid)?.key, // a failed fetch leaves the old keys: a kid they hold still counts
    );

  function lookup(kid: string): KeyWithAlg | undefined | Promise<KeyWithAlg | undefined> {
    const hit = entries.get(kid);
    if (hit !== undefined) {
      // stale: refreshed at most once per maxAgeMs while the source answers, once per cooldown while it fails
      if (!fetches.fresh(maxAgeMs) && fetches.inFlight === undefined && fetches.failureCooled()) fetches.now().catch(() => undefined);
      return hit.key;
    }
    const fetched = fetches.ifDue();
    return fetched === undefined ? undefined : after(kid)(fetched);
  }

  return {
    lookup,
    reload: fetches.now,
    get kids() {
      return [...entries.keys()];
    },
    url: shown,
  };
}
