import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FingerprintTable, type FingerprintInsert } from '../../server/stores/fingerprint-table.js';

/**
 * Fingerprints chosen to collide on their home slot (word 0 from a handful of values near both
 * ends of the table), so that probing, reuse of expired slots, backward-shift deletion and
 * clusters wrapping past the last slot all happen in a few operations.
 */
const fingerprint = (key: number): Int32Array => Int32Array.of([0, 1, 14, 15, -1][key % 5]!, key, ~key, key * 7);

type Op = { kind: 'insert'; key: number; ttl: number } | { kind: 'advance'; ticks: number } | { kind: 'sweep' };

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(60), ttl: fc.integer({ min: 1, max: 8 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ticks: fc.integer({ min: 0, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  ),
  { maxLength: 400, size: 'max' },
);

describe('FingerprintTable against a model (property)', () => {
  it('answers as a Map of expiry ticks through growth, sweeps and wrap-around clusters', () => {
    fc.assert(
      fc.property(ops, fc.integer({ min: 1, max: 50 }), (steps, maxEntries) => {
        const table = new FingerprintTable({ maxEntries, initialSlots: 16 });
        const model = new Map<number, number>();
        let now = 0;
        for (const step of steps) {
          if (step.kind === 'advance') now += step.ticks;
          else if (step.kind === 'sweep') table.sweep(now);
          else {
            const live = [...model.values()].filter((expiry) => expiry > now).length;
            const expected: FingerprintInsert = (model.get(step.key) ?? 0) > now ? 'present' : live >= maxEntries ? 'full' : 'inserted';
            expect(table.insert(fingerprint(step.key), now + step.ttl, now)).toBe(expected);
            if (expected === 'inserted') model.set(step.key, now + step.ttl);
          }
          expect(table.size).toBeLessThanOrEqual(maxEntries);
        }
        // A sweep leaves exactly the live entries, each still found.
        table.sweep(now);
        const live = [...model].filter(([, expiry]) => expiry > now);
        expect(table.size).toBe(live.length);
        for (const [key, expiry] of live) expect(table.insert(fingerprint(key), expiry, now)).toBe('present');
      }),
      { numRuns: 250 },
    );
  }, 30_000);

  it('tells fingerprints apart by every word, not only the one that picks the slot', () => {
    const table = new FingerprintTable({ maxEntries: 100 });
    const base = [7, 8, 9, 10];
    expect(table.insert(Int32Array.from(base), 5, 0)).toBe('inserted');
    for (let word = 0; word < 4; word++) {
      const other = Int32Array.from(base);
      other[word] = other[word]! ^ (1 << 31);
      expect(table.insert(other, 5, 0)).toBe('inserted');
    }
    expect(table.insert(Int32Array.from(base), 5, 0)).toBe('present');
  });
});
