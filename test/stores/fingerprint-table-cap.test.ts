import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAP_SWEEP, FingerprintTable, SWEEP_CHUNK, type FingerprintInsert } from '../../server/stores/fingerprint-table.js';

/**
 * Review 36, F3: at its cap the table swept, inside one insert, until it freed a slot — up to
 * the whole table (2^21 slots at the default million entries: 15-170 ms, once a second under a
 * flood of valid stamps), and after the tick's expired entries were all reclaimed, the next
 * insert walked the rest of the pass and then the whole table again to learn that nothing had
 * expired. Now the table counts entries per expiry tick, sweeps only while one is known to have
 * expired, and an insert at the cap sweeps at most `capSweep` slots; if they free nothing it is
 * refused `full` (fail closed) and the next insert goes on from there. The work is counted
 * (`backgroundWork`: slots visited besides the insert's own probe), never timed.
 */

/** A fixed, uniformly spread stream of 32-bit words (xorshift32). */
function words(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state;
  };
}

function insertCounted(table: FingerprintTable, fp: Int32Array, expiry: number, now: number): { result: FingerprintInsert; work: number } {
  const before = table.backgroundWork;
  const result = table.insert(fp, expiry, now);
  return { result, work: table.backgroundWork - before };
}

describe('FingerprintTable at its cap: bounded work per insert', () => {
  it('one expired entry far from the sweep cursor: each insert sweeps at most capSweep slots, is refused until the sweep reaches it, then takes it; later refusals do no work', () => {
    const capSweep = 256;
    const table = new FingerprintTable({ maxEntries: 3000, initialSlots: 4096, capSweep });
    expect(table.slotCount).toBe(4096); // at the cap from the start: 3,000 entries fit 4,096 slots
    const next = words(0x2545f491);
    // the one short-lived entry sits at slot 3000; the sweep cursor is at slot 0
    expect(table.insert(Int32Array.of(3000, 1, 2, 3), 5, 0)).toBe('inserted');
    for (let n = 1; n < 3000; n++) expect(table.insert(Int32Array.of(next(), n, next(), next()), 1000, 0)).toBe('inserted');
    expect(table.insert(Int32Array.of(next(), -1, 0, 0), 1000, 0)).toBe('full');

    const now = 10; // the short-lived entry has expired, nothing else has
    let refused = 0;
    let taken = false;
    for (let n = 0; n < 100 && !taken; n++) {
      // keys whose probe paths start at the first slots, far from slot 3000
      const { result, work } = insertCounted(table, Int32Array.of(n % 32, 10_000 + n, 7, 7), 1000, now);
      expect(work).toBeLessThanOrEqual(SWEEP_CHUNK + capSweep);
      if (result === 'full') refused++;
      else {
        expect(result).toBe('inserted');
        taken = true;
      }
    }
    expect(taken).toBe(true);
    // refused while the entry waited further along (fail closed), at most one pass's worth
    expect(refused).toBeGreaterThanOrEqual(5);
    expect(refused).toBeLessThanOrEqual(Math.ceil(4096 / capSweep) + 1);
    expect(table.size).toBe(3000);
    // nothing has expired now, and the table knows it: a refusal visits no slot
    for (let n = 0; n < 1000; n++) {
      const { result, work } = insertCounted(table, Int32Array.of(next(), 20_000 + n, 0, 0), 1000, now);
      expect(result).toBe('full');
      expect(work).toBe(0);
    }
  });

  it('a flood at the cap, entries expiring every tick: every insert within the bound, each tick’s expired entries taken, then refusals at no cost', () => {
    const table = new FingerprintTable({ maxEntries: 100_000 });
    const next = words(0x1234567);
    const fp = new Int32Array(4);
    const fresh = (): Int32Array => {
      for (let w = 0; w < 4; w++) fp[w] = next();
      return fp;
    };
    const PER_TICK = 4000;
    const TTL = 25;
    let now = 0;
    for (let n = 0; n < 100_000; n++) {
      if (n % PER_TICK === 0) now++;
      expect(table.insert(fresh(), now + TTL, now)).toBe('inserted');
    }
    expect(table.slotCount).toBe(262_144);
    // now 25: the first tick's entries expire at 26, the next tick's at 27, ...
    const bound = SWEEP_CHUNK + CAP_SWEEP;
    for (let tick = 0; tick < 10; tick++) {
      now++; // the PER_TICK entries of one tick expire
      let inserted = 0;
      let maxWork = 0;
      const works: number[] = [];
      const results: FingerprintInsert[] = [];
      for (let n = 0; n < PER_TICK + 1000; n++) {
        const { result, work } = insertCounted(table, fresh(), now + TTL, now);
        if (result === 'inserted') inserted++;
        maxWork = Math.max(maxWork, work);
        works.push(work);
        results.push(result);
      }
      expect(maxWork).toBeLessThanOrEqual(bound);
      // refused while reclaimable at most once per capSweep slots of a pass
      expect(inserted).toBeGreaterThanOrEqual(PER_TICK - (Math.ceil(262_144 / CAP_SWEEP) + 1));
      expect(inserted).toBeLessThanOrEqual(PER_TICK);
      // once they are all taken, the table knows nothing has expired: the last refusals cost nothing
      expect(results.slice(-500).every((result) => result === 'full')).toBe(true);
      expect(works.slice(-500).every((work) => work === 0)).toBe(true);
      expect(table.size).toBe(100_000);
    }
  }, 30_000);
});

type Op = { kind: 'insert'; key: number; ttl: number } | { kind: 'advance'; ticks: number } | { kind: 'sweep' };

/** Two keys in three share a home slot with a few others; the rest spread like real hashes. */
const fingerprint = (key: number): Int32Array => Int32Array.of(key % 3 === 0 ? [0, 1, 15, -1][key % 4]! : Math.imul(key, 0x9e3779b1), key, ~key, key * 7);

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(300), ttl: fc.integer({ min: 1, max: 12 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ticks: fc.integer({ min: 0, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  ),
  { minLength: 50, maxLength: 600, size: 'max' },
);

describe('FingerprintTable with a tiny capSweep, against a model (property)', () => {
  it('never takes a replay, refuses a fresh key only when holding maxEntries, and takes it within a pass of retries', () => {
    let refusedWhileReclaimable = 0;
    fc.assert(
      fc.property(ops, fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 6 }), (steps, maxEntries, capSweep) => {
        const table = new FingerprintTable({ maxEntries, initialSlots: 16, migrateChunk: 2, sweepChunk: 1, capSweep });
        const model = new Map<number, number>();
        // a pass over both tables while growing into the largest, capSweep slots an insert
        const retries = Math.ceil((2 * table.maxSlots) / capSweep) + 2;
        let now = 0;
        for (const step of steps) {
          if (step.kind === 'advance') now += step.ticks;
          else if (step.kind === 'sweep') table.sweep(now);
          else {
            const live = [...model.values()].filter((expiry) => expiry > now).length;
            const expected: FingerprintInsert = (model.get(step.key) ?? 0) > now ? 'present' : live >= maxEntries ? 'full' : 'inserted';
            const work = table.backgroundWork;
            let result = table.insert(fingerprint(step.key), now + step.ttl, now);
            // a migrate or sweep chunk (2 or 1 slots), then at most capSweep to make room
            expect(table.backgroundWork - work).toBeLessThanOrEqual(2 + capSweep);
            if (result === 'full' && expected === 'inserted') {
              // fail closed while an expired entry waits further along: only with maxEntries held
              expect(table.size).toBe(maxEntries);
              refusedWhileReclaimable++;
              for (let attempt = 0; attempt < retries && result === 'full'; attempt++) result = table.insert(fingerprint(step.key), now + step.ttl, now);
            }
            expect(result).toBe(expected);
            if (expected === 'inserted') model.set(step.key, now + step.ttl);
          }
          expect(table.size).toBeLessThanOrEqual(maxEntries);
        }
        table.sweep(now);
        const live = [...model].filter(([, expiry]) => expiry > now);
        expect(table.size).toBe(live.length);
        for (const [key, expiry] of live) expect(table.insert(fingerprint(key), expiry, now)).toBe('present');
      }),
      { numRuns: 300 },
    );
    // the runs did refuse while something was reclaimable (what capSweep is about)
    expect(refusedWhileReclaimable).toBeGreaterThan(50);
  }, 60_000);

  // The counts per expiry tick are what a sweep now trusts to stop, and a refusal at the cap to
  // skip sweeping: they must stay exact when the clock steps back and forth, and ticks empty out
  // below the least one and come back. A clock stepped back may find an entry reclaimed when it
  // had expired, so the model only holds the table to what it promises then: a key never expired
  // is a replay, an expired one is not, and a table that refuses (or has just been swept) holds
  // no expired entry.
  it('with the clock stepping back and forth: replays kept, no refusal while an expired entry is held, sweeps leave no expired entry', () => {
    const steps = fc.array(
      fc.oneof(
        { weight: 8, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(200), ttl: fc.integer({ min: 1, max: 60 }) }) },
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ticks: fc.integer({ min: -20, max: 25 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
      ),
      { minLength: 200, maxLength: 1500, size: 'max' },
    );
    /** Entries held with an expiry at or below `now`: a probe that finds the key reports it, so count via the table's size after a sweep. */
    const heldAfterSweep = (table: FingerprintTable, now: number): number => {
      table.sweep(now);
      return table.size;
    };
    fc.assert(
      fc.property(steps, fc.integer({ min: 1, max: 150 }), (ops, maxEntries) => {
        const table = new FingerprintTable({ maxEntries, initialSlots: 16, migrateChunk: 2, sweepChunk: 1 });
        const model = new Map<number, number>(); // key -> expiry of its last insert
        let now = 1000;
        let latest = now; // the latest tick the table was shown: an entry expired by then may be gone
        for (const step of ops) {
          if (step.kind === 'advance') now += step.ticks;
          else if (step.kind === 'sweep') table.sweep(now);
          else {
            const expiry = model.get(step.key) ?? 0;
            const result = table.insert(fingerprint(step.key), now + step.ttl, now);
            if (expiry > latest) expect(result).toBe('present'); // never expired: a replay
            if (expiry <= now) expect(result).not.toBe('present');
            if (result === 'full') {
              expect(table.size).toBe(maxEntries);
              // refused only when no held entry had expired: a sweep finds nothing to delete
              expect(heldAfterSweep(table, now)).toBe(maxEntries);
            }
            if (result === 'inserted') model.set(step.key, now + step.ttl);
          }
          latest = Math.max(latest, now);
        }
        // after a sweep the table holds only live entries, each a key of the model at its expiry
        const held = heldAfterSweep(table, now);
        let present = 0;
        for (const [key, expiry] of model) if (expiry > now && table.insert(fingerprint(key), expiry, now) === 'present') present++;
        expect(present).toBe(held);
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('a tick whose entries were all reclaimed, written again after the clock stepped back, is counted again', () => {
    const table = new FingerprintTable({ maxEntries: 1, initialSlots: 16 });
    expect(table.insert(Int32Array.of(0, 1, 1, 1), 5, 0)).toBe('inserted');
    table.sweep(10); // tick 5 has expired: its only entry is reclaimed
    expect(table.size).toBe(0);
    expect(table.insert(Int32Array.of(0, 2, 2, 2), 5, 0)).toBe('inserted'); // the clock is back at 0
    // at 6 that entry has expired too: the table, full, must find it (another home slot, no probe meets it)
    expect(table.insert(Int32Array.of(8, 3, 3, 3), 20, 6)).toBe('inserted');
    expect(table.insert(Int32Array.of(4, 4, 4, 4), 20, 6)).toBe('full');
  });

  it('rejects a capSweep below 1', () => {
    expect(() => new FingerprintTable({ maxEntries: 10, capSweep: 0 })).toThrow(/capSweep/);
  });
});
