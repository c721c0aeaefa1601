import { sipHash128, sipHashKeyFromBytes, type SipHashKey } from '../stores/siphash.js';

/** Rows of the sketch: one per 32-bit word of a SipHash-128 tag. */
const DEPTH = 4;

/** Counters per row as shipped: 2¹⁶, so 4 × 65,536 counters (512 KiB at two bytes each). */
export const TICKET_LIMITER_WIDTH = 1 << 16;

/**
 * The ticket route's limiter, for every adapter (Fastify, node:http/Express, Hono): requests per
 * key per fixed window, keyed by `rateLimitKey` (an IPv6 /64 is one key). A request is counted
 * before its proof is checked, so a flood of proofs meets the limit instead of costing a
 * signature check each.
 *
 * A count-min sketch with conservative update: four rows of `width` counters; a key's counter
 * in each row is chosen by one 32-bit word of SipHash-1-3 under a random key of this limiter,
 * so nobody can aim keys at the counters of another. A key's count is the least of its four
 * counters, and a request that is let in raises each of them to at least that count plus one.
 * Every counter of a key is at least the number of its requests let in this window, so the
 * limiter may over-count (collisions) but never under-counts: no key is let in more than `max`
 * times in one window. It never forgets a count within its window and cannot be filled: the
 * memory is fixed (no table of keys that a flood could fill or make it evict), and a newcomer
 * is refused only when all four of its counters are at `max`, which takes about `width × max`
 * requests let in within one window (about 2 million at 30 a minute).
 *
 * Windows are fixed and shared by all keys: one starts with the first request after the last
 * ended and lasts `windowMs`; the counters are cleared when it ends. So a key can be let in up
 * to `2 × max` times across the end of a window, as with any fixed-window limiter.
 */
export class TicketRateLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #width: number;
  readonly #mask: number;
  /** `DEPTH` rows of `width` counters, row by row; never larger than `max`. */
  readonly #counts: Uint16Array | Uint32Array;
  readonly #hashKey: SipHashKey = sipHashKeyFromBytes(crypto.getRandomValues(new Uint8Array(16)));
  readonly #tag = new Int32Array(4);
  #windowEnd = -Infinity;

  /**
   * `max` requests per key per window. `width` (a power of two, default 2¹⁶) sizes the sketch;
   * `now` is the clock (milliseconds), `Date.now` unless told.
   */
  constructor(max: number, options: { windowMs?: number; width?: number; now?: () => number } = {}) {
    if (!Number.isInteger(max) || max < 1) throw new TypeError('max must be a positive whole number');
    const width = options.width ?? TICKET_LIMITER_WIDTH;
    if (!Number.isInteger(width) || width < 1 || width > 1 << 24 || (width & (width - 1)) !== 0) {
      throw new TypeError('width must be a power of two from 1 to 2^24');
    }
    const windowMs = options.windowMs ?? 60_000;
    if (!(windowMs > 0) || windowMs === Infinity) throw new TypeError('windowMs must be a positive finite number');
    // a count never exceeds max; 2³² − 1 requests a window from one address is not reachable
    this.#max = Math.min(max, 0xffff_ffff);
    this.#windowMs = windowMs;
    this.#now = options.now ?? Date.now;
    this.#width = width;
    this.#mask = width - 1;
    this.#counts = this.#max <= 0xffff ? new Uint16Array(DEPTH * width) : new Uint32Array(DEPTH * width);
  }

  /** Counts one request for `key`; false when it is over the limit. */
  allow(key: string): boolean {
    return this.take(key) >= 0;
  }

  /**
   * Counts one request for `key`. Answers how many more this window would let in after it, or
   * −1 when it is refused (a refused request is not counted: the key is at `max` already).
   */
  take(key: string): number {
    this.#roll(this.#now());
    const tag = this.#tag;
    sipHash128(this.#hashKey, key, tag);
    const counts = this.#counts;
    const mask = this.#mask;
    const width = this.#width;
    const i0 = tag[0]! & mask;
    const i1 = width + (tag[1]! & mask);
    const i2 = 2 * width + (tag[2]! & mask);
    const i3 = 3 * width + (tag[3]! & mask);
    const seen = Math.min(counts[i0]!, counts[i1]!, counts[i2]!, counts[i3]!);
    if (seen >= this.#max) return -1;
    // conservative update: raise only what is below the new count; the others already cover it
    const next = seen + 1;
    if (counts[i0]! < next) counts[i0] = next;
    if (counts[i1]! < next) counts[i1] = next;
    if (counts[i2]! < next) counts[i2] = next;
    if (counts[i3]! < next) counts[i3] = next;
    return this.#max - next;
  }

  /** Milliseconds until the current window ends (0 when none is running). */
  msUntilReset(): number {
    const left = this.#windowEnd - this.#now();
    return left > 0 ? Math.min(left, this.#windowMs) : 0;
  }

  /** The counters, for a look at their size (fixed from construction on). */
  get byteLength(): number {
    return this.#counts.byteLength;
  }

  #roll(now: number): void {
    if (now >= this.#windowEnd) {
      if (this.#windowEnd !== -Infinity) this.#counts.fill(0);
      this.#windowEnd = now + this.#windowMs;
    } else if (now < this.#windowEnd - this.#windowMs) {
      // the clock went back before the window began: end it windowMs from now, counts kept
      // (clearing them would forget; keeping the old end could hold them for as long as it jumped)
      this.#windowEnd = now + this.#windowMs;
    }
  }
}
