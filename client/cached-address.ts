import { canonicalAddress } from '../shared/address.js';
import type { ObservationSource } from '../shared/schema.js';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { OBSERVATION_SOURCES } from '../shared/token-checks.js';
import type { AddressSource } from './address-source.js';

export interface CachedAddressOptions {
  /** How long a learned address is used before it is learned again. */
  ttlMs: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** An address source that learns its address by I/O and may be told the address went stale. */
export interface RefreshableAddressSource extends AddressSource {
  /**
   * Drops the cached address. Given the address a rejected stamp carried, it drops the cache
   * only if it still holds that address: of many requests rejected at once, the first one
   * triggers the refresh and the others reuse its result.
   */
  invalidate(staleAddress?: string): void;
}

const CACHED_ADDRESS_OPTION_NAMES: OptionNames<CachedAddressOptions> = Object.freeze({ ttlMs: true, now: true });

export function checkTtl(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 86_400_000) {
    throw new TypeError(`${name} must be a number of milliseconds from 0 to 86400000`);
  }
  return value;
}

/**
 * Wraps a loader (`load()` → address text) with a TTL cache; concurrent callers share one
 * in-flight load, and a failed load is not cached so the next call tries again.
 * `load` may throw its own typed error; an address that is not valid is reported through
 * `invalid()` so each source keeps its own error code.
 */
export function cachedAddress(
  obs: ObservationSource,
  load: () => Promise<string>,
  invalid: () => Error,
  options: CachedAddressOptions,
): RefreshableAddressSource {
  if (!(OBSERVATION_SOURCES as readonly unknown[]).includes(obs)) throw new TypeError(`obs must be one of ${OBSERVATION_SOURCES.join(', ')}`);
  if (typeof load !== 'function') throw new TypeError('load must be a function () => Promise<address>');
  if (typeof invalid !== 'function') throw new TypeError('invalid must be a function () => Error');
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, CACHED_ADDRESS_OPTION_NAMES);
  checkTtl('ttlMs', options.ttlMs, 0);
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  const now = options.now ?? Date.now;
  let value: string | undefined;
  let expiresAt = 0;
  let inflight: Promise<string> | undefined;

  const refresh = (): Promise<string> => {
    inflight ??= load().then(
      (raw) => {
        inflight = undefined;
        const canonical = typeof raw === 'string' ? canonicalAddress(raw) : undefined;
        if (canonical === undefined) throw invalid();
        value = canonical;
        expiresAt = now() + options.ttlMs;
        return canonical;
      },
      (error: unknown) => {
        inflight = undefined;
        throw error;
      },
    );
    return inflight;
  };

  return {
    obs,
    current: () => (value !== undefined && now() < expiresAt ? value : refresh()),
    invalidate(staleAddress?: string) {
      if (staleAddress === undefined || staleAddress === value) value = undefined;
    },
  };
}
