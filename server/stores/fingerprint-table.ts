/**
 * A set of 128-bit fingerprints, each with an expiry tick, in one flat Int32Array: open
 * addressing with linear probing, five words a slot (four of fingerprint, one of expiry; an
 * expiry of 0 marks an empty slot). 20 bytes a slot and no object per entry is what keeps a
 * million live entries near 40 bytes each, where a Map of strings costs over 120.
 *
 * An entry is live while its expiry tick is greater than the current tick. Expired entries are
 * reclaimed without timers: an insert reuses the first expired slot on its probe path, and
 * once the table nears its load limit while something has expired, a sweep pass walks the
 * table a chunk of slots per insert, deleting expired entries in place (backward-shift deletion, so no tombstones ever lengthen a
 * probe). A table at its load limit grows, and at its largest size it answers `full` rather than
 * drop a live entry: a replay cache that evicts reopens the replay window.
 *
 * No insert does O(table) work (issue #16: doubling a 786k-entry table in one insert stalled
 * every request behind it for 40 ms). Growing allocates the doubled table and then moves a
 * chunk of old slots per insert, as Redis's dict does; until the old table is drained a key
 * lives in exactly one of the two, and lookups probe both. How many entries expire at each tick
 * is counted, so a sweep runs only while an entry is known to have expired and stops once none
 * has. At the cap, an insert that needs a slot sweeps at most `capSweep` slots for one (review
 * 36: it swept until it freed one, up to the whole 2^21-slot table, 15-170 ms, once a second
 * under a flood); if they free none it is refused `full` — failing closed, as a full store
 * does — and the next insert goes on from there.
 *
 * The fingerprints must be uniformly distributed (the low bits of word 0 pick the home slot);
 * the caller hashes with a secret key so that nobody can aim keys at one cluster.
 */

export type FingerprintInsert = 'inserted' | 'present' | 'full';

const STRIDE = 5;
const EXPIRY = 4;
/** Expiry of an old-table slot already moved or whose key was reinserted: not empty, never matched. */
const GONE = -1;
/** Growth happens before the probe sequences get long: 0.75 keeps an unsuccessful probe ~8 slots. */
const MAX_LOAD = 0.75;
export const MAX_TICK = 0x7fffffff;
/**
 * Old slots moved to the grown table per insert. Any value of 2 or more drains the old table
 * before the new one can reach its load limit (see #startGrowth); 128 slots cost about 1 µs,
 * so a doubling of 2^20 slots is spread over 8,192 inserts.
 */
export const MIGRATE_CHUNK = 128;
/** Slots a sweep pass visits per insert (and an insert at the load limit may add before growing). */
export const SWEEP_CHUNK = 64;
/**
 * Slots an insert into a table at its cap may sweep to free one (about 0.1 ms). Past it the
 * insert is `full`; a pass over the largest table (2^21 slots) spans at most 128 such inserts.
 */
export const CAP_SWEEP = 16_384;

export interface FingerprintTableOptions {
  /** Most entries held at once, live or not yet reclaimed. */
  maxEntries: number;
  /** Slots allocated at first; a power of two. */
  initialSlots?: number;
  /** Old slots moved per insert while growing (default MIGRATE_CHUNK, at least 2). */
  migrateChunk?: number;
  /** Slots swept per insert while something has expired (default SWEEP_CHUNK, at least 1). */
  sweepChunk?: number;
  /** Slots an insert at the cap may sweep (and move, while growing) to free one (default CAP_SWEEP, at least 1). */
  capSweep?: number;
}

/**
 * How many held entries expire at each tick, and the least such tick: exact, not a bound, so
 * "has anything expired?" is one comparison. A count per tick in a Map, the ticks in a min-heap;
 * a tick whose count fell to 0 leaves the heap when it reaches the top. Ticks come and go one per
 * second with a fixed TTL, so both stay small. The inserts of one second share a tick, and the
 * entries reclaimed meanwhile mostly share another: the ticks last added to and last removed
 * from are kept at hand, so most counts change without a Map lookup.
 */
class ExpiryTicks {
  /** The least tick a held entry expires at; Infinity when none is held. */
  min = Infinity;
  readonly #counts = new Map<number, { count: number }>();
  readonly #heap: number[] = [];
  /** The tick last added to and the one last removed from, with their counts (-1: none; a tick is at least 1). */
  #hotTick = -1;
  #hot = { count: 0 };
  #coldTick = -1;
  #cold = { count: 0 };

  add(tick: number): void {
    if (tick === this.#hotTick) {
      this.#hot.count++;
      return;
    }
    let held = this.#counts.get(tick);
    if (held === undefined) {
      held = { count: 0 };
      this.#counts.set(tick, held);
      this.#push(tick);
      if (tick < this.min) this.min = tick;
    }
    held.count++;
    this.#hotTick = tick;
    this.#hot = held;
  }

  remove(tick: number): void {
    let held: { count: number };
    if (tick === this.#coldTick) held = this.#cold;
    else if (tick === this.#hotTick) held = this.#hot;
    else {
      held = this.#counts.get(tick)!;
      this.#coldTick = tick;
      this.#cold = held;
    }
    if (--held.count > 0) return;
    this.#counts.delete(tick);
    if (tick === this.#hotTick) this.#hotTick = -1;
    if (tick === this.#coldTick) this.#coldTick = -1;
    // A tick dropped below the top stays in the heap until it surfaces; when a clock that stepped
    // back lets such ticks pile up, the heap is rebuilt from the counts.
    if (this.#heap.length > 2 * this.#counts.size + 64) {
      this.#heap.length = 0;
      for (const kept of this.#counts.keys()) this.#push(kept);
    }
    if (tick !== this.min) return;
    const heap = this.#heap;
    while (heap.length > 0 && !this.#counts.has(heap[0]!)) this.#pop();
    this.min = heap.length > 0 ? heap[0]! : Infinity;
  }

  #push(tick: number): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(tick);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= tick) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = tick;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1]! < heap[child]!) child++;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

export class FingerprintTable {
  readonly maxEntries: number;
  readonly maxSlots: number;
  readonly migrateChunk: number;
  readonly sweepChunk: number;
  readonly capSweep: number;
  #slots: Int32Array;
  #mask: number;
  #limit: number;
  /**
   * Sweep passes start once the count reaches this, 2 passes' worth of inserts below #limit: a
   * pass takes ceil(slots / sweepChunk) inserts, each adding at most one entry, so it ends before
   * the limit, and a table with room pays nothing (an insert reuses expired slots on its path).
   */
  #sweepFrom: number;
  /** Entries held in both tables: live ones and expired ones not yet reclaimed. */
  #count = 0;
  /** The expiry ticks of the entries held (both tables): `.min > now` means nothing has expired. */
  readonly #expiries = new ExpiryTicks();
  /** The table being drained into #slots while growing, else undefined. */
  #old: Int32Array | undefined;
  #oldMask = 0;
  /** Old slots below this index have been moved. */
  #migrated = 0;
  /** The next slot of the sweep pass, and how many slots the pass has left (0: no pass). */
  #sweepAt = 0;
  #sweepLeft = 0;
  /** Slots visited by migration and sweeps since the table was made (work spread over inserts). */
  #background = 0;

  constructor(options: FingerprintTableOptions) {
    this.maxEntries = options.maxEntries;
    this.maxSlots = slotsFor(options.maxEntries);
    this.migrateChunk = options.migrateChunk ?? MIGRATE_CHUNK;
    this.sweepChunk = options.sweepChunk ?? SWEEP_CHUNK;
    this.capSweep = options.capSweep ?? CAP_SWEEP;
    if (!Number.isSafeInteger(this.migrateChunk) || this.migrateChunk < 2) throw new TypeError('migrateChunk must be an integer of at least 2');
    if (!Number.isSafeInteger(this.sweepChunk) || this.sweepChunk < 1) throw new TypeError('sweepChunk must be a positive integer');
    if (!Number.isSafeInteger(this.capSweep) || this.capSweep < 1) throw new TypeError('capSweep must be a positive integer');
    const initial = Math.min(options.initialSlots ?? 1024, this.maxSlots);
    this.#slots = new Int32Array(initial * STRIDE);
    this.#mask = initial - 1;
    this.#limit = this.#limitFor(initial);
    this.#sweepFrom = this.#sweepFromFor(initial);
  }

  /** Entries held: live ones and expired ones not yet reclaimed. */
  get size(): number {
    return this.#count;
  }

  /** Slots of the current (while growing: the new) table. */
  get slotCount(): number {
    return this.#mask + 1;
  }

  /** Both tables while growing: the old one is freed once drained. */
  get byteLength(): number {
    return this.#slots.byteLength + (this.#old?.byteLength ?? 0);
  }

  /** True while old slots are still being moved into the grown table. */
  get growing(): boolean {
    return this.#old !== undefined;
  }

  /** Slots visited by migration and sweep passes so far: what inserts do besides their own probe. */
  get backgroundWork(): number {
    return this.#background;
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
    if (this.#old !== undefined) {
      this.#migrate(now, this.migrateChunk, false);
      if (this.#old !== undefined && this.#takeFromOld(f0, f1, f2, f3, now)) return 'present';
    } else if (now >= this.#expiries.min && (this.#sweepLeft > 0 || this.#count >= this.#sweepFrom)) {
      // Through the public method, so that a spy sees the sweeps an insert makes.
      this.sweep(now, this.sweepChunk);
    }
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
        this.#expiries.remove(e);
        this.#expiries.add(expiry);
        return 'inserted';
      }
      if (reusable < 0 && e <= now) reusable = i;
      i = (i + 1) & mask;
    }
    // The whole probe path is checked first: the key may sit beyond an expired slot.
    if (reusable >= 0) {
      this.#expiries.remove(slots[reusable * STRIDE + EXPIRY]!);
      this.#write(reusable, f0, f1, f2, f3, expiry);
      this.#expiries.add(expiry);
      return 'inserted';
    }
    if (this.#count >= this.#limit) {
      if (!this.#makeRoom(now)) return 'full';
      // A sweep may have shifted entries, a growth replaced the table: find the slot again.
      i = this.#emptySlotFor(f0);
    }
    this.#write(i, f0, f1, f2, f3, expiry);
    this.#expiries.add(expiry);
    this.#count++;
    return 'inserted';
  }

  /**
   * Deletes expired entries. Without `budget`: every expired entry now, whatever the load (and
   * any growth in progress is finished first). With one: continues the sweep pass over at most
   * `budget` slots, starting a pass if none is under way; no-op while growing. Either stops as
   * soon as no held entry has expired.
   */
  sweep(now: number, budget = Infinity): void {
    if (budget === Infinity) {
      if (this.#old !== undefined) this.#migrate(now, Infinity, false);
      this.#sweepLeft = 0;
    } else if (this.#old !== undefined) return;
    this.#sweepSlots(now, budget, false);
  }

  /**
   * Frees at least one held entry, or grows, or reports false (full). Called when an insert
   * needs a new slot and the table holds #limit entries.
   */
  #makeRoom(now: number): boolean {
    const atCap = this.#mask + 1 >= this.maxSlots;
    // Only when an entry is known to have expired (the counts are exact): otherwise a refusal
    // at the cap is O(1). Below the cap a chunk's try, then growth; at the cap a longer one,
    // capSweep slots, and if those free nothing the insert is refused (fail closed) and the next
    // one goes on from there, rather than one insert walking the whole table.
    if (now >= this.#expiries.min) {
      const work = this.#background;
      const budget = atCap ? this.capSweep : this.sweepChunk;
      if (this.#old !== undefined) this.#migrate(now, budget, true);
      if (this.#count < this.#limit) return true;
      if (this.#old === undefined) {
        // A pass that ends within the budget is followed by the next: it may have started after
        // the entries behind its start expired.
        while (this.#count >= this.#limit && now >= this.#expiries.min && this.#background - work < budget) {
          this.#sweepSlots(now, budget - (this.#background - work), true);
        }
        if (this.#count < this.#limit) return true;
      }
    }
    if (this.#old === undefined && !atCap) {
      this.#startGrowth();
      return true;
    }
    return false;
  }

  /**
   * Allocates the doubled table; the old one is drained by later inserts.
   *
   * Why the old table is always drained before the new one reaches its limit: growth from S to
   * 2S slots starts when the count reaches floor(0.75 S) (below the cap the limit is never
   * maxEntries, by the choice of maxSlots). Every later insert first moves k >= 2 old slots, so
   * the drain ends within the ceil(S / k) <= S / 2 inserts that follow, each adding at most one
   * entry: at most 0.75 S + S / 2 = 1.25 S entries, below the new limit of 1.5 S. So an insert
   * never finds the table at its limit while growing, except at the cap (where the new limit is
   * maxEntries), and #makeRoom handles that by draining further.
   */
  #startGrowth(): void {
    const slotCount = (this.#mask + 1) * 2;
    this.#old = this.#slots;
    this.#oldMask = this.#mask;
    this.#migrated = 0;
    this.#slots = new Int32Array(slotCount * STRIDE);
    this.#mask = slotCount - 1;
    this.#limit = this.#limitFor(slotCount);
    this.#sweepFrom = this.#sweepFromFor(slotCount);
    // A sweep pass over the old table is abandoned: the drain drops expired entries itself.
    this.#sweepLeft = 0;
    this.#sweepAt = 0;
  }

  /** Moves up to `budget` old slots, dropping expired entries; with `untilFreed`, stops at the first drop. */
  #migrate(now: number, budget: number, untilFreed: boolean): void {
    const old = this.#old!;
    const end = this.#oldMask + 1;
    const countBefore = this.#count;
    let s = this.#migrated;
    while (budget > 0 && s < end) {
      const at = s * STRIDE;
      const e = old[at + EXPIRY]!;
      if (e > 0) {
        if (e > now) {
          const f0 = old[at]!;
          this.#write(this.#emptySlotFor(f0), f0, old[at + 1]!, old[at + 2]!, old[at + 3]!, e);
        } else {
          this.#count--;
          this.#expiries.remove(e);
        }
        old[at + EXPIRY] = GONE;
      }
      s++;
      budget--;
      this.#background++;
      if (untilFreed && this.#count < countBefore) break;
    }
    this.#migrated = s;
    if (s === end) this.#old = undefined;
  }

  /**
   * Looks `fp` up in the old table while growing: true if a live entry holds it. An expired one
   * is forgotten there (GONE, not empty, so that other probe paths stay intact), so that the
   * key, inserted anew in the new table, is held in one table only.
   */
  #takeFromOld(f0: number, f1: number, f2: number, f3: number, now: number): boolean {
    const old = this.#old!;
    const mask = this.#oldMask;
    let i = f0 & mask;
    for (;;) {
      const at = i * STRIDE;
      const e = old[at + EXPIRY]!;
      if (e === 0) return false;
      if (e > 0 && old[at] === f0 && old[at + 1] === f1 && old[at + 2] === f2 && old[at + 3] === f3) {
        if (e > now) return true;
        old[at + EXPIRY] = GONE;
        this.#count--;
        this.#expiries.remove(e);
        return false;
      }
      i = (i + 1) & mask;
    }
  }

  /**
   * Continues the sweep pass (starting one if none is under way) over up to `budget` slots;
   * with `untilFreed`, stops once an entry was deleted, and in any case once no held entry has
   * expired. A pass visits each slot position once, from wherever the last pass ended. Entries a
   * deletion shifts back move from ahead of the cursor to the cursor or past it, never behind it.
   */
  #sweepSlots(now: number, budget: number, untilFreed: boolean): void {
    const slots = this.#slots;
    const mask = this.#mask;
    const countBefore = this.#count;
    let i = this.#sweepAt;
    let left = this.#sweepLeft;
    if (left === 0) left = mask + 1;
    while (budget > 0 && now >= this.#expiries.min) {
      let e = slots[i * STRIDE + EXPIRY]!;
      while (e !== 0 && e <= now) {
        this.#deleteAt(i);
        this.#count--;
        this.#expiries.remove(e);
        e = slots[i * STRIDE + EXPIRY]!;
      }
      i = (i + 1) & mask;
      budget--;
      this.#background++;
      if (--left === 0) break;
      if (untilFreed && this.#count < countBefore) break;
    }
    this.#sweepAt = i;
    this.#sweepLeft = left;
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
      const e = slots[at + EXPIRY]!;
      if (e === 0) break;
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
  }

  #sweepFromFor(slotCount: number): number {
    return Math.max(0, this.#limitFor(slotCount) - 2 * Math.ceil(slotCount / this.sweepChunk));
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
