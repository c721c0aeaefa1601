import { IpStampError, withoutStackTrace } from '../../shared/errors.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { FingerprintTable, MAX_TICK } from './fingerprint-table.js';
import { assertInsertArguments, ReplayStoreFullError, type ReplayStore } from './replay-store.js';
import { sipHash128, sipHashKeyFromBytes, type SipHashKey } from './siphash.js';

export interface MemoryReplayStoreOptions {
  /**
   * Most keys held at once (default 1,000,000). When that many are live the store refuses
   * new keys (`store-unavailable`) instead of forgetting one. Memory at the cap is about
   * 40–55 bytes a key, allocated as the store grows (for a while after each doubling, the
   * old array is held too, until inserts have moved its entries).
   */
  maxEntries?: number;
  /** Wall clock in ms (default `Date.now`); tests inject their own. */
  now?: () => number;
}

const MEMORY_STORE_OPTION_NAMES: OptionNames<MemoryReplayStoreOptions> = Object.freeze({ maxEntries: true, now: true });

/** A bound a typed array can hold: 2^27 slots of 20 bytes, about 2.7 GB. */
const MAX_ENTRIES_LIMIT = 100_000_000;
/**
 * Expiry is kept in whole seconds, rounded up: an entry may outlive its TTL by under a second,
 * never the reverse. One sweep per tick at most is also what bounds the work of a full store.
 */
const TICK_MS = 1000;
/**
 * Ticks count from 2^30 s before the store started (or last rebased), so that a clock stepped
 * back (or forward) by up to 34 years still gets exact expiry ticks instead of being clamped.
 */
const ORIGIN_TICK = 2 ** 30;
/**
 * A TTL over this many ticks cannot be held exactly from any origin, and is clamped; one of
 * exactly this many is clamped too (a fresh origin could just hold it).
 */
const RANGE_TICKS = MAX_TICK - ORIGIN_TICK;
const OUT_OF_RANGE =
  'MemoryReplayStore: the clock is about 34 years (2^30 s) ahead of the one the store counts from, and keys still live keep it from moving its origin; this TTL cannot be held exactly until they expire';

/**
 * A replay store for one process. Keys are reduced to 128-bit fingerprints with SipHash-1-3
 * under a random key drawn per store, so the table holds no strings and nobody outside the
 * process can compute where a key lands.
 *
 * Two distinct keys share a fingerprint with probability 2^-128; with n keys live, a fresh key
 * is mistaken for a replay with probability about n / 2^128 (≈ 2^-108 at a million). The
 * error only ever goes that way — a collision can reject a fresh stamp, never accept a replay.
 *
 * It uses the wall clock, as the verifier's freshness check does: if the clock steps back,
 * stamps become fresh again for the verifier, and the store must still remember them. A clock
 * that moves more than ~34 years forward (rebases once every expiry has passed) or back (keys
 * held until it returns) never makes it forget a key before a TTL under ~34 years has passed
 * (docs/replay-stores.md).
 */
export class MemoryReplayStore implements ReplayStore {
  readonly maxEntries: number;
  readonly #now: () => number;
  #origin: number;
  /** The greatest expiry tick written since the table was made: below it, something may be live. */
  #heldUntil = 0;
  readonly #hashKey: SipHashKey = sipHashKeyFromBytes(crypto.getRandomValues(new Uint8Array(16)));
  readonly #fingerprint = new Int32Array(4);
  #table: FingerprintTable | undefined;

  constructor(options: MemoryReplayStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    rejectUnknownOptions(options, MEMORY_STORE_OPTION_NAMES);
    const { maxEntries = 1_000_000, now = Date.now } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_ENTRIES_LIMIT) {
      throw new TypeError(`maxEntries must be an integer from 1 to ${MAX_ENTRIES_LIMIT}`);
    }
    if (typeof now !== 'function') throw new TypeError('now must be a function returning milliseconds');
    this.maxEntries = maxEntries;
    this.#now = now;
    this.#origin = this.#clock() - ORIGIN_TICK * TICK_MS;
    this.#table = new FingerprintTable({ maxEntries });
  }

  /** Keys held: the live ones and expired ones not yet reclaimed. */
  get size(): number {
    return this.#table?.size ?? 0;
  }

  /** Bytes of the fingerprint table (the store's whole variable cost): both arrays while it grows. */
  get byteLength(): number {
    return this.#table?.byteLength ?? 0;
  }

  insertIfAbsent(key: string, ttlMs: number): boolean {
    assertInsertArguments(key, ttlMs);
    let table = this.#table;
    if (table === undefined) throw new IpStampError('store-unavailable');
    const clock = this.#clock();
    let elapsed = clock - this.#origin;
    let now = Math.floor(elapsed / TICK_MS);
    let expiry = Math.max(Math.ceil((elapsed + ttlMs) / TICK_MS), 1);
    if (expiry > MAX_TICK) {
      // The clock is ~34 years past the store's start (a host with no RTC boots at 1970, then
      // NTP sets the date). Clamping would forget keys early: from MAX_TICK on, every replay
      // read as fresh. Rebase rather than fail closed: once the clock has passed every expiry
      // written, every held entry is one the table may reclaim anyway (a sweep would), and
      // refusing would turn a clock fix into an outage until restart (or, under onStoreError
      // 'accept', into no replay check at all). What no store of expiring keys can do: if the
      // clock then steps back as far, keys from before the jump were forgotten (their stamps
      // turn fresh again), and keys taken while it was ahead look live for decades until the
      // store fills and refuses (docs/replay-stores.md).
      if (now >= this.#heldUntil) {
        table = this.#table = new FingerprintTable({ maxEntries: this.maxEntries });
        this.#heldUntil = 0;
        this.#origin = clock - ORIGIN_TICK * TICK_MS;
        elapsed = clock - this.#origin;
        now = Math.floor(elapsed / TICK_MS);
        expiry = Math.ceil((elapsed + ttlMs) / TICK_MS);
      }
      if (expiry > MAX_TICK) {
        // no origin holds a TTL over ~34 years: held as long as the store can count
        if (ttlMs >= RANGE_TICKS * TICK_MS) expiry = MAX_TICK;
        // a live entry keeps the origin, and this one cannot be held exactly: refuse (for at
        // most this TTL) rather than forget it early
        else throw new IpStampError('store-unavailable', { cause: new RangeError(OUT_OF_RANGE) });
      }
    }
    sipHash128(this.#hashKey, key, this.#fingerprint);
    const result = table.insert(this.#fingerprint, expiry, now);
    if (result === 'inserted' && expiry > this.#heldUntil) this.#heldUntil = expiry;
    // once full, every insert lands here until entries expire, and filling it is what an
    // attacker would do: no stack trace, which would cost more than the insert (errors.ts)
    if (result === 'full') throw withoutStackTrace(() => new ReplayStoreFullError());
    return result === 'inserted';
  }

  /** Frees the table; later inserts throw `store-unavailable`. */
  close(): void {
    this.#table = undefined;
  }

  #clock(): number {
    const ms = this.#now();
    if (!Number.isFinite(ms)) throw new TypeError('now() must return finite milliseconds');
    return ms;
  }
}
