import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FingerprintTable, MIGRATE_CHUNK, SWEEP_CHUNK, type FingerprintInsert } from '../../server/stores/fingerprint-table.js';

/**
 * Issue #16: growing and sweeping are spread over inserts. The model test runs with tiny chunks
 * so that many inserts land while two tables are live or a sweep pass is half done; the work
 * test holds every insert to the chunk sizes while a table doubles nine times.
 */

/** Two keys in three share a home slot with a few others; the rest spread like real hashes. */
const fingerprint = (key: number): Int32Array => Int32Array.of(key % 3 === 0 ? [0, 1, 15, -1][key % 4]! : Math.imul(key, 0x9e3779b1), key, ~key, key * 7);

type Op = { kind: 'insert'; key: number; ttl: number } | { kind: 'advance'; ticks: number } | { kind: 'sweep'; budget: number | undefined };

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(500), ttl: fc.integer({ min: 1, max: 12 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ticks: fc.integer({ min: 0, max: 3 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('sweep' as const), budget: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }) }),
    },
  ),
  { minLength: 100, maxLength: 900, size: 'max' },
);

describe('FingerprintTable growing and sweeping incrementally, against a model (property)', () => {
  it('answers fresh / replay / full as a Map of expiry ticks at every step, with both tables live', () => {
    let doublingsSeen = 0;
    let insertsWhileGrowing = 0;
    fc.assert(
      fc.property(
        ops,
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        (steps, maxEntries, migrateChunk, sweepChunk) => {
          const table = new FingerprintTable({ maxEntries, initialSlots: 16, migrateChunk, sweepChunk });
          const model = new Map<number, number>();
          let now = 0;
          for (const step of steps) {
            if (step.kind === 'advance') now += step.ticks;
            else if (step.kind === 'sweep') table.sweep(now, step.budget);
            else {
              const live = [...model.values()].filter((expiry) => expiry > now).length;
              const expected: FingerprintInsert = (model.get(step.key) ?? 0) > now ? 'present' : live >= maxEntries ? 'full' : 'inserted';
              const slotsBefore = table.slotCount;
              if (table.growing) insertsWhileGrowing++;
              expect(table.insert(fingerprint(step.key), now + step.ttl, now)).toBe(expected);
              if (expected === 'inserted') model.set(step.key, now + step.ttl);
              if (table.slotCount > slotsBefore) doublingsSeen++;
            }
            const live = [...model.values()].filter((expiry) => expiry > now).length;
            expect(table.size).toBeLessThanOrEqual(maxEntries);
            expect(table.size).toBeGreaterThanOrEqual(live);
            // Both tables are counted while growing: the old one is half the new one.
            expect(table.byteLength).toBe(table.slotCount * 20 * (table.growing ? 1.5 : 1));
          }
          // A full sweep finishes any growth and leaves exactly the live entries, each still found.
          table.sweep(now);
          expect(table.growing).toBe(false);
          const live = [...model].filter(([, expiry]) => expiry > now);
          expect(table.size).toBe(live.length);
          for (const [key, expiry] of live) expect(table.insert(fingerprint(key), expiry, now)).toBe('present');
        },
      ),
      { numRuns: 300 },
    );
    // The runs did exercise what they are about: many doublings, many inserts mid-migration.
    expect(doublingsSeen).toBeGreaterThan(300);
    expect(insertsWhileGrowing).toBeGreaterThan(3000);
  }, 60_000);

  it('rejects a migrate chunk below 2 (the drain could then outlast the new table) and a sweep chunk below 1', () => {
    expect(() => new FingerprintTable({ maxEntries: 10, migrateChunk: 1 })).toThrow(/migrateChunk/);
    expect(() => new FingerprintTable({ maxEntries: 10, sweepChunk: 0 })).toThrow(/sweepChunk/);
  });
});

describe('FingerprintTable work per insert', () => {
  it('moves and sweeps at most a chunk of slots per insert while doubling from 1,024 to 524,288 slots', () => {
    const table = new FingerprintTable({ maxEntries: 1_000_000 });
    const fp = new Int32Array(4);
    let state = 0x2545f491;
    const nextWord = (): number => {
      // xorshift32: a fixed, uniformly spread stream of fingerprints
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state;
    };
    const perInsertBound = Math.max(MIGRATE_CHUNK, 2 * SWEEP_CHUNK);
    let now = 0;
    let maxWork = 0;
    let growths = 0;
    let growingInserts = 0;
    let sweepingInserts = 0;
    for (let n = 0; n < 400_000; n++) {
      // 4,000 inserts a tick, TTL 40 to 120 ticks: entries expire all along, so sweep passes run
      if (n % 4000 === 0) now++;
      for (let w = 0; w < 4; w++) fp[w] = nextWord();
      const slotsBefore = table.slotCount;
      const bytesBefore = table.byteLength;
      const wasGrowing = table.growing;
      const workBefore = table.backgroundWork;
      expect(table.insert(fp, now + 40 + (n % 81), now)).toBe('inserted');
      const work = table.backgroundWork - workBefore;
      maxWork = Math.max(maxWork, work);
      if (work > perInsertBound) throw new Error(`insert ${n} visited ${work} slots besides its probe`);
      if (table.slotCount > slotsBefore) {
        growths++;
        // The insert that grows only allocates: the old table is still held and counted.
        expect(table.byteLength).toBe(bytesBefore * 3);
        expect(table.growing).toBe(true);
      }
      if (wasGrowing) growingInserts++;
      else if (work > 0) sweepingInserts++;
    }
    expect(table.slotCount).toBe(524_288);
    expect(growths).toBe(9);
    // Each doubling of S old slots was spread over about S / MIGRATE_CHUNK inserts.
    expect(growingInserts).toBeGreaterThanOrEqual((524_288 - 1024) / MIGRATE_CHUNK);
    expect(sweepingInserts).toBeGreaterThan(10_000);
    expect(maxWork).toBe(perInsertBound);
  }, 30_000);
});
