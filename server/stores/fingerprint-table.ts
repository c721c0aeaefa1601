/**
 * A set of 128-bit fingerprints, each with an expiry tick, in one flat Int32Array: open
 * addressing with linear probing, five words a slot (four of fingerprint, one of expiry; an
 * expiry of 0 marks an empty slot). 20 bytes a slot and no object per entry is what keeps a
 * million live entries near 40 bytes each, where a Map of strings costs over 120.
 *
 * An entry is live while its expiry tick is greater than the current tick. Expired entries are
 * reclaimed without timers: an insert reuses the first expired slot on its probe path, and
 * when the table reaches its load limit one sweep deletes every expired entry in place
 * (backward-shift deletion, so no tombstones ever lengthen a probe). Only then does the table
 * grow, and at its largest size it answers `full` rather than drop a live entry: a replay cache
 * that evicts reopens the replay window.
 *
 * The fingerprints must be uniformly distributed (the low bits of word 0 pick the home slot);
 * the caller hashes with a secret key so that nobody can aim keys at one cluster.
 */

export type FingerprintInsert = 'inserted' | 'present' | 'full';

const STRIDE = 5;
const EXPIRY = 4;
/** Growth happens before the probe sequences get long: 0.75 keeps an unsuccessful probe ~8 slots. */
const MAX_LOAD = 0.75;
export const MAX_TICK = 0x7fffffff;

export interface FingerprintTableOptions {
  /** Most entries held at once, live or not yet reclaimed. */
  maxEntries: number;
  /** Slots allocated at first; a power of two. */
  initialSlots?: number;
}

export class FingerprintTable {
  readonly maxEntries: number;
  readonly maxSlots: number;
  #slots: Int32Array;
  #mask: number;
  #limit: number;
  #count = 0;
  /** No entry expires before this tick: while the clock is below it, a sweep would find nothing. */
  #minExpiry = MAX_TICK;

  constructor(options: FingerprintTableOptions) {
    this.maxEntries = options.maxEntries;
    this.maxSlots = slotsFor(options.maxEntries);
    const initial = Math.min(options.initialSlots ?? 1024, this.maxSlots);
    this.#slots = new Int32Array(initial * STRIDE);
    this.#mask = initial - 1;
    this.#limit = this.#limitFor(initial);
  }

  /** Entries held: live ones and expired ones not yet reclaimed. */
  get size(): number {
    return this.#count;
  }

  get slotCount(): number {
    return this.#mask + 1;
  }

  get byteLength(): number {
    return this.#slots.byteLength;
  }

  /**
   * Inserts `fp` (four words) with `expiry` unless a live entry with the same fingerprint is
   * there. `now` is the current tick; `expiry` must be in 1..MAX_TICK.
   */
  insert(fp: Int32Array, expiry: number, now: number): FingerprintInsert {
    const f0 = fp[0]! | 0,
      f1 = fp[1]! | 0,
      f2 = fp[2]! | 0,
      f3 = fp[3]! | 0;
    const slots = this.#slots;
    const mask = this.#mask;
    let i = f0 & mask;
    let reusable = -1;
    for (;;) {
      const at = i * STRIDE;
      const e = slots[at + EXPIRY]!;
      if (e === 0) break;
      if (slots[at] === f0 && slots[at + 1] === f1 && slots[at + 2] === f2 && slots[at + 3] === f3) {
        if (e > now) return 'present';
        slots[at + EXPIRY] = expiry;
        this.#noteExpiry(expiry);
        return 'inserted';
      }
      if (reusable < 0 && e <= now) reusable = i;
      i = (i + 1) & mask;
    }
    // The whole probe path is checked first: the key may sit beyond an expired slot.
    if (reusable >= 0) {
      this.#write(reusable, f0, f1, f2, f3, expiry);
      return 'inserted';
    }
    if (this.#count >= this.#limit) {
      if (!this.#makeRoom(now)) return 'full';
      i = this.#emptySlotFor(f0);
    }
    this.#write(i, f0, f1, f2, f3, expiry);
    this.#count++;
    return 'inserted';
  }

  /** Deletes every expired entry now, whatever the load. */
  sweep(now: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    // Start right after an empty slot, so that no cluster wraps around the scan and every
    // entry a deletion shifts backwards lands on a slot the scan has yet to visit.
    let start = 0;
    while (slots[start * STRIDE + EXPIRY] !== 0) start++;
    let live = 0;
    let minExpiry = MAX_TICK;
    for (let n = 1; n <= mask + 1; n++) {
      const i = (start + n) & mask;
      let e = slots[i * STRIDE + EXPIRY]!;
      while (e !== 0 && e <= now) {
        this.#deleteAt(i);
        e = slots[i * STRIDE + EXPIRY]!;
      }
      if (e !== 0) {
        live++;
        if (e < minExpiry) minExpiry = e;
      }
    }
    this.#count = live;
    this.#minExpiry = minExpiry;
  }

  #makeRoom(now: number): boolean {
    if (now >= this.#minExpiry) this.sweep(now);
    // Grow when a sweep freed less than half: the next sweep is then at least as far away as
    // this one was, which keeps the O(slots) sweeps amortized O(1) per insert.
    if (this.#count * 2 > this.#limit && this.#mask + 1 < this.maxSlots) this.#grow(now);
    return this.#count < this.#limit;
  }

  #grow(now: number): void {
    const old = this.#slots;
    const slotCount = (this.#mask + 1) * 2;
    this.#slots = new Int32Array(slotCount * STRIDE);
    this.#mask = slotCount - 1;
    this.#limit = this.#limitFor(slotCount);
    this.#count = 0;
    this.#minExpiry = MAX_TICK;
    for (let at = 0; at < old.length; at += STRIDE) {
      const e = old[at + EXPIRY]!;
      if (e === 0 || e <= now) continue;
      const f0 = old[at]!;
      this.#write(this.#emptySlotFor(f0), f0, old[at + 1]!, old[at + 2]!, old[at + 3]!, e);
      this.#count++;
    }
  }

  /** Backward-shift deletion: pull later entries of the cluster into the hole where allowed. */
  #deleteAt(i: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const at = j * STRIDE;
      if (slots[at + EXPIRY] === 0) break;
      const home = slots[at]! & mask;
      // The entry may move back only if the hole lies between its home slot and j.
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots.copyWithin(hole * STRIDE, at, at + STRIDE);
        hole = j;
      }
    }
    slots[hole * STRIDE + EXPIRY] = 0;
  }

  #emptySlotFor(f0: number): number {
    let i = f0 & this.#mask;
    while (this.#slots[i * STRIDE + EXPIRY] !== 0) i = (i + 1) & this.#mask;
    return i;
  }

  #write(i: number, f0: number, f1: number, f2: number, f3: number, expiry: number): void {
    const at = i * STRIDE;
    const slots = this.#slots;
    slots[at] = f0;
    slots[at + 1] = f1;
    slots[at + 2] = f2;
    slots[at + 3] = f3;
    slots[at + EXPIRY] = expiry;
    this.#noteExpiry(expiry);
  }

  #noteExpiry(expiry: number): void {
    if (expiry < this.#minExpiry) this.#minExpiry = expiry;
  }

  #limitFor(slotCount: number): number {
    return Math.min(Math.floor(slotCount * MAX_LOAD), this.maxEntries);
  }
}

/** The fewest slots, a power of two, that hold `maxEntries` within the load limit. */
function slotsFor(maxEntries: number): number {
  let slots = 16;
  while (Math.floor(slots * MAX_LOAD) < maxEntries) slots *= 2;
  return slots;
}
