import { describe, expect, it } from 'vitest';
import { FingerprintTable } from '../../server/stores/fingerprint-table.js';

/**
 * At its cap the table sweeps only `capSweep` slots per insert, so an expired entry far from
 * the sweep cursor is found late and the insert is refused `full` meanwhile (fail closed). An
 * expired entry on the new key's own probe path, though, is taken at once (docs/replay-stores.md:
 * "an insert reuses an expired slot on its path"): that is what keeps a fresh stamp from being
 * refused while the store holds room for it. The model tests never saw the difference, because
 * with the default capSweep a sweep covers their whole table anyway.
 */

/** Word 0 picks the home slot (of 16 here); the other words tell the keys apart. */
const fp = (home: number, id: number): Int32Array => Int32Array.of(home, id, ~id, id * 7);

describe('FingerprintTable at its cap reuses the expired slot on the probe path', () => {
  it('takes a slot whose entry expired this very tick, even slot 0, while the sweep cursor is elsewhere', () => {
    // 3 entries in 16 slots: at the cap from the start; one slot swept per insert at most
    const table = new FingerprintTable({ maxEntries: 3, initialSlots: 16, sweepChunk: 1, capSweep: 1 });
    expect(table.insert(fp(0, 1), 5, 0)).toBe('inserted'); // slot 0, expires at tick 5
    expect(table.insert(fp(8, 2), 3, 0)).toBe('inserted'); // slot 8, expires at tick 3
    expect(table.insert(fp(9, 3), 100, 0)).toBe('inserted'); // slot 9, lives on

    // tick 3: slot 8 has expired, but the cursor (slots 0, 1) does not reach it: refused (fail closed)
    expect(table.insert(fp(12, 4), 100, 3)).toBe('full');

    // tick 5: slot 0 expires now (live while expiry > now). A key whose probe starts at slot 0
    // meets it and takes it, whatever the sweep cursor (now at slot 2) is doing.
    const before = table.backgroundWork;
    expect(table.insert(fp(0, 5), 100, 5)).toBe('inserted');
    // one slot of the sweep pass, and no make-room sweep: the slot came from the probe
    expect(table.backgroundWork - before).toBe(1);
    expect(table.size).toBe(3);

    // the keys still held are replays, the one whose slot was taken is not
    expect(table.insert(fp(0, 5), 100, 5)).toBe('present');
    expect(table.insert(fp(9, 3), 100, 5)).toBe('present');
  });

  it('takes an expired slot in the middle of a cluster and still finds the keys beyond it', () => {
    const table = new FingerprintTable({ maxEntries: 4, initialSlots: 16, sweepChunk: 1, capSweep: 1 });
    // a cluster at slots 4, 5, 6, 7 of keys all homed at 4; the one at slot 5 expires first
    expect(table.insert(fp(4, 1), 50, 0)).toBe('inserted');
    expect(table.insert(fp(4, 2), 2, 0)).toBe('inserted');
    expect(table.insert(fp(4, 3), 50, 0)).toBe('inserted');
    expect(table.insert(fp(4, 4), 50, 0)).toBe('inserted');
    // at tick 2 a replay of the key at slot 7 must still be found beyond the expired slot 5
    expect(table.insert(fp(4, 4), 50, 2)).toBe('present');
    // and a fresh key homed there takes slot 5 (the cursor is far: one slot per insert)
    expect(table.insert(fp(4, 9), 50, 2)).toBe('inserted');
    for (const id of [1, 3, 4, 9]) expect(table.insert(fp(4, id), 50, 2)).toBe('present');
    expect(table.insert(fp(4, 2), 50, 2)).toBe('full');
  });
});

describe('FingerprintTable growth drops what has expired', () => {
  it('does not move an entry expiring at the tick of the drain into the grown table', () => {
    // docs/replay-stores.md: "Expired entries are not moved". An entry is live while its expiry is
    // greater than the tick, so one expiring at exactly the drain's tick is dead and is dropped,
    // not carried into the new table to take a slot until a sweep finds it.
    const table = new FingerprintTable({ maxEntries: 100, initialSlots: 16 });
    for (let id = 0; id < 12; id++) expect(table.insert(fp(id, id), 5, 0)).toBe('inserted');
    // the 13th finds the 16-slot table at its limit (12) with nothing expired: it doubles
    expect(table.insert(fp(12, 12), 50, 0)).toBe('inserted');
    expect(table.growing).toBe(true);
    // at tick 5 the next insert drains the 16 old slots (one chunk): the 12 expired are dropped
    expect(table.insert(fp(13, 13), 50, 5)).toBe('inserted');
    expect(table.growing).toBe(false);
    expect(table.size).toBe(2);
    for (let id = 0; id < 12; id++) expect(table.insert(fp(id, id), 50, 5)).toBe('inserted');
    expect(table.size).toBe(14);
  });
});

describe('FingerprintTable while growing tells fingerprints apart by every word', () => {
  it('a key differing from one still in the old table in a single word is fresh, not a replay', () => {
    // fingerprint-table.test.ts checks every word on a table at rest; while growing, a lookup
    // also probes the old table, and a match there that skipped a word would take a fresh key
    // for a replay (or, on an expired entry, forget the wrong one).
    const table = new FingerprintTable({ maxEntries: 100, initialSlots: 16, migrateChunk: 2 });
    const base = Int32Array.of(7, 8, 9, 10); // home slot 7 of 16
    expect(table.insert(base, 50, 0)).toBe('inserted');
    for (const home of [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]) expect(table.insert(fp(home, 100 + home), 50, 0)).toBe('inserted');
    expect(table.insert(fp(12, 112), 50, 0)).toBe('inserted'); // the 13th doubles the table
    // each insert now moves 2 old slots: slot 7 (base) stays in the old table for 3 more inserts
    for (const word of [3, 2, 1]) {
      expect(table.growing).toBe(true);
      const other = Int32Array.from(base);
      other[word] = other[word]! ^ (1 << 31);
      expect(table.insert(other, 50, 0), `word ${word}`).toBe('inserted');
    }
    expect(table.insert(base, 50, 0)).toBe('present');
    expect(table.size).toBe(16);
  });
});

describe('FingerprintTable knows exactly whether anything has expired (no wasted sweeps)', () => {
  it('a full sweep stops once the only expired entry is gone, not at the end of the table', () => {
    // sweep(): "Either stops as soon as no held entry has expired" — the counts per tick are
    // what make a sweep that finds nothing cost nothing (review 36).
    const table = new FingerprintTable({ maxEntries: 100 });
    expect(table.slotCount).toBe(256);
    expect(table.insert(fp(3, 1), 5, 0)).toBe('inserted');
    for (let id = 2; id < 50; id++) expect(table.insert(fp(100 + id, id), 500, 0)).toBe('inserted');
    const before = table.backgroundWork;
    table.sweep(10);
    expect(table.size).toBe(48);
    // slots 0 to 3, then nothing is known to have expired
    expect(table.backgroundWork - before).toBe(4);
  });

  it('a key reinserted in place after it expired leaves no phantom expiry: a refusal at the cap then costs nothing', () => {
    // one slot swept per insert, so that the expired entry is still there for its key to meet
    const table = new FingerprintTable({ maxEntries: 3, initialSlots: 16, sweepChunk: 1 });
    expect(table.insert(fp(1, 1), 5, 0)).toBe('inserted');
    expect(table.insert(fp(2, 2), 100, 0)).toBe('inserted');
    expect(table.insert(fp(3, 3), 100, 0)).toBe('inserted');
    // tick 10: the same key again, its old entry expired: it is taken in place with a new expiry
    expect(table.insert(fp(1, 1), 100, 10)).toBe('inserted');
    // every held entry lives until 100: the table must know that nothing has expired
    const before = table.backgroundWork;
    for (let id = 10; id < 20; id++) expect(table.insert(fp(id, id), 100, 10)).toBe('full');
    expect(table.backgroundWork - before).toBe(0);
    // and at 100 they all have: a fresh key is taken
    expect(table.insert(fp(9, 9), 200, 100)).toBe('inserted');
  });

  it('ticks left stale in the heap by many reinserts are skipped or rebuilt away: the least held tick stays exact', () => {
    // 200 entries at most in 512 slots: at the cap from the start; sweeps start at 184 entries
    const table = new FingerprintTable({ maxEntries: 200, initialSlots: 512 });
    // one entry at tick 5 (the least), 150 at ticks 10 to 159, on distinct home slots
    expect(table.insert(fp(500, 1_000), 5, 0)).toBe('inserted');
    for (let i = 0; i < 150; i++) expect(table.insert(fp(2 * i, i), 10 + i, 0)).toBe('inserted');
    // tick 200: each of the 150 is taken again in place (its entry expired), all now until 1000.
    // Their old ticks empty out while tick 5 is still the least, so they stay in the heap
    // (enough of them to make it rebuild), then tick 5 empties too.
    for (let i = 0; i < 150; i++) expect(table.insert(fp(2 * i, i), 1000, 200)).toBe('inserted');
    expect(table.insert(fp(500, 1_000), 1000, 200)).toBe('inserted');
    for (let i = 0; i < 49; i++) expect(table.insert(fp(300 + i, 2_000 + i), 1000, 200)).toBe('inserted');
    expect(table.size).toBe(200);
    // every entry lives until 1000, and the table knows it: a refusal visits no slot
    const before = table.backgroundWork;
    for (let i = 0; i < 20; i++) expect(table.insert(fp(400 + i, 3_000 + i), 1000, 200)).toBe('full');
    expect(table.backgroundWork - before).toBe(0);
    // at 1000 they have all expired, and the table knows that too: a fresh key is taken
    expect(table.insert(fp(450, 4_000), 2000, 1000)).toBe('inserted');
  });
});
