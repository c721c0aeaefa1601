import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { IpStampError } from '../../shared/errors.js';
import { FingerprintTable } from '../../server/stores/fingerprint-table.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { isReplayStoreFullError } from '../../server/stores/replay-store.js';
import { describeReplayStoreContract } from './replay-store-contract.js';

let clock = 1_700_000_000_123;

describeReplayStoreContract('MemoryReplayStore', () => new MemoryReplayStore({ now: () => clock }), {
  advance: (ms) => {
    clock += ms;
  },
  // Expiry is kept in whole seconds, rounded up.
  expirySlackMs: 1000,
});

function storeAt(start: number, maxEntries?: number): { store: MemoryReplayStore; advance: (ms: number) => void } {
  let now = start;
  const store = new MemoryReplayStore({ now: () => now, ...(maxEntries === undefined ? {} : { maxEntries }) });
  return { store, advance: (ms) => void (now += ms) };
}

function insertRefusal(store: MemoryReplayStore, key: string): unknown {
  try {
    store.insertIfAbsent(key, 10_000);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('MemoryReplayStore when full', () => {
  it('refuses a new key with store-unavailable and keeps every live one', () => {
    const { store } = storeAt(0, 100);
    for (let i = 0; i < 100; i++) expect(store.insertIfAbsent(`key ${i}`, 10_000)).toBe(true);
    const error = insertRefusal(store, 'one too many');
    expect(error).toBeInstanceOf(IpStampError);
    expect((error as IpStampError).reason).toBe('store-unavailable');
    expect(isReplayStoreFullError(error)).toBe(true);
    // thrown on every insert while full, so built without a stack trace (shared/errors.ts)
    expect((error as Error).stack).not.toMatch(/\n\s+at /);
    // No live key was evicted to make room: each is still a replay.
    for (let i = 0; i < 100; i++) expect(store.insertIfAbsent(`key ${i}`, 10_000)).toBe(false);
    expect(store.size).toBe(100);
  });

  it('accepts again once entries expire, and not a moment before', () => {
    const { store, advance } = storeAt(5_432, 100);
    for (let i = 0; i < 100; i++) store.insertIfAbsent(`old ${i}`, 10_000);
    advance(9_999);
    expect(insertRefusal(store, 'new 0')).toBeInstanceOf(IpStampError);
    expect(store.insertIfAbsent('old 7', 10_000)).toBe(false);
    advance(1_000);
    for (let i = 0; i < 100; i++) expect(store.insertIfAbsent(`new ${i}`, 10_000)).toBe(true);
    expect(insertRefusal(store, 'new 100')).toBeInstanceOf(IpStampError);
    expect(store.size).toBe(100);
  });

  it('refuses in constant time while nothing can have expired (no sweep per refusal)', () => {
    const { store, advance } = storeAt(0, 200_000);
    for (let i = 0; i < 200_000; i++) store.insertIfAbsent(`fill ${i}`, 60_000);
    // counted, not timed: a sweep of the 2^19-slot table per refusal is the cost this guards against
    const sweeps = vi.spyOn(FingerprintTable.prototype, 'sweep');
    try {
      let refused = 0;
      for (let i = 0; i < 20_000; i++) if (insertRefusal(store, `refused ${i}`) instanceof IpStampError) refused++;
      expect(refused).toBe(20_000);
      expect(sweeps).not.toHaveBeenCalled();
      // the spy sees sweeps: once entries have expired, an insert that finds no expired slot
      // on its probe path (a quarter of keys land on an empty one) sweeps them all, once
      advance(61_000);
      for (let i = 0; i < 1000 && sweeps.mock.calls.length === 0; i++) expect(store.insertIfAbsent(`after expiry ${i}`, 10_000)).toBe(true);
      expect(sweeps).toHaveBeenCalledTimes(1);
    } finally {
      sweeps.mockRestore();
    }
  }, 20_000);

  it('reclaims expired entries instead of growing when few are live', () => {
    const { store, advance } = storeAt(0, 100_000);
    let accepted = 0;
    for (let second = 0; second < 200; second++) {
      for (let i = 0; i < 1_000; i++) if (store.insertIfAbsent(`s${second} ${i}`, 5_000)) accepted++;
      advance(1_000);
    }
    expect(accepted).toBe(200_000);
    // 200,000 keys went through, about 6,000 live at any moment: the table stays at the
    // 16,384 slots those need instead of growing towards the 262,144 the cap allows.
    expect(store.byteLength).toBeLessThanOrEqual(16_384 * 20);
  });
});

describe('MemoryReplayStore growth and layout', () => {
  it('grows by doubling and still knows every key', () => {
    const { store } = storeAt(0);
    const startBytes = store.byteLength;
    let accepted = 0;
    for (let i = 0; i < 50_000; i++) if (store.insertIfAbsent(`grow ${i}`, 60_000)) accepted++;
    expect(accepted).toBe(50_000);
    for (let i = 0; i < 50_000; i++) if (store.insertIfAbsent(`grow ${i}`, 60_000)) accepted++;
    expect(accepted).toBe(50_000);
    expect(store.size).toBe(50_000);
    expect(store.byteLength).toBeGreaterThan(startBytes);
    // 20 bytes a slot, at most 4/3 slots per key after growth, times 2 for the doubling step.
    expect(store.byteLength / 50_000).toBeLessThanOrEqual(20 * (4 / 3) * 2);
  });

  it('grows without stopping: both tables are held (and reported) while the old one drains, every key found in one', () => {
    const { store } = storeAt(0);
    // 1,024 slots at first, 768 entries at most before doubling
    for (let i = 0; i < 768; i++) expect(store.insertIfAbsent(`drain ${i}`, 60_000)).toBe(true);
    expect(store.byteLength).toBe(1024 * 20);
    expect(store.insertIfAbsent('drain 768', 60_000)).toBe(true);
    expect(store.byteLength).toBe((1024 + 2048) * 20);
    // Each insert (a replay too) moves a chunk of old slots; whichever table holds a key, it is a replay.
    const drained: number[] = [];
    for (let i = 0; i <= 768; i++) {
      expect(store.insertIfAbsent(`drain ${i}`, 60_000)).toBe(false);
      drained.push(store.byteLength);
    }
    expect(drained[0]).toBe((1024 + 2048) * 20);
    expect(drained.at(-1)).toBe(2048 * 20);
    expect(store.size).toBe(769);
  });

  it('holds a million keys in at most 64 bytes each at the cap', () => {
    const store = new MemoryReplayStore({ maxEntries: 1_000_000, now: () => 0 });
    for (let i = 0; i < 1_000_000; i++) store.insertIfAbsent(`m ${i}`, 60_000);
    expect(store.size).toBe(1_000_000);
    expect(store.byteLength / 1_000_000).toBeLessThanOrEqual(64);
  }, 20_000);
});

describe('MemoryReplayStore options', () => {
  it('rejects a bad maxEntries or clock with a TypeError naming it', () => {
    for (const maxEntries of [0, -1, 1.5, Number.NaN, 1e12]) {
      expect(() => new MemoryReplayStore({ maxEntries })).toThrow(/maxEntries/);
    }
    expect(() => new MemoryReplayStore({ now: 5 as unknown as () => number })).toThrow(/now/);
    let value = 0;
    const store = new MemoryReplayStore({ now: () => value });
    value = Number.NaN;
    expect(() => store.insertIfAbsent('k', 1_000)).toThrow(TypeError);
  });

  it('rejects an unknown option with a TypeError naming it', () => {
    expect(() => new MemoryReplayStore({ maxEntry: 10 } as never)).toThrow(new TypeError('unknown option "maxEntry" (did you mean "maxEntries"?)'));
    expect(() => new MemoryReplayStore(null as never)).toThrow(new TypeError('options must be an object'));
  });

  it('remembers keys when the clock steps back, as the verifier sees those stamps as fresh again', () => {
    const { store, advance } = storeAt(1_000_000);
    expect(store.insertIfAbsent('before the step', 30_000)).toBe(true);
    advance(-3_600_000);
    expect(store.insertIfAbsent('before the step', 30_000)).toBe(false);
    // Keys inserted after the step still expire on their own TTL, so the store does not fill up.
    expect(store.insertIfAbsent('after the step', 30_000)).toBe(true);
    advance(31_000);
    expect(store.insertIfAbsent('after the step', 30_000)).toBe(true);
    expect(store.insertIfAbsent('before the step', 30_000)).toBe(false);
  });
});

type Op = { kind: 'insert'; key: number; ttl: number } | { kind: 'advance'; ms: number };

describe('MemoryReplayStore against a model (property)', () => {
  const op = (maxTtlSeconds: number): fc.Arbitrary<Op> =>
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(40), ttl: fc.integer({ min: 1, max: maxTtlSeconds }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3 }) }) },
    );

  it('answers exactly as a Map of expiry times, on whole-second times', () => {
    fc.assert(
      fc.property(fc.array(op(6), { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 45 }), (ops, maxEntries) => {
        let now = 1_000_000;
        const store = new MemoryReplayStore({ maxEntries, now: () => now });
        const model = new Map<number, number>();
        for (const step of ops) {
          if (step.kind === 'advance') {
            now += step.ms * 1000;
            continue;
          }
          const live = (key: number): boolean => (model.get(key) ?? -Infinity) > now;
          const liveCount = [...model.keys()].filter(live).length;
          const expected = live(step.key) ? false : liveCount >= maxEntries ? 'full' : true;
          let answer: boolean | 'full';
          try {
            answer = store.insertIfAbsent(`key ${step.key}`, step.ttl * 1000);
          } catch (error) {
            expect((error as IpStampError).reason).toBe('store-unavailable');
            answer = 'full';
          }
          expect(answer).toBe(expected);
          if (answer === true) model.set(step.key, now + step.ttl * 1000);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never forgets a key before its TTL and forgets it within a second after (any times)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(op(5000), fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2500 }) })), {
          maxLength: 300,
          size: 'max',
        }),
        (ops) => {
          let now = 1_000_000 + 123;
          const store = new MemoryReplayStore({ now: () => now });
          const expiresAt = new Map<number, number>();
          for (const step of ops) {
            if (step.kind === 'advance') {
              now += step.ms;
              continue;
            }
            const until = expiresAt.get(step.key) ?? -Infinity;
            const answer = store.insertIfAbsent(`key ${step.key}`, step.ttl);
            if (now < until) expect(answer).toBe(false);
            if (now >= until + 1000) expect(answer).toBe(true);
            if (answer) expiresAt.set(step.key, now + step.ttl);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('MemoryReplayStore when the clock leaves its ~34-year range', () => {
  const YEAR_MS = 365.25 * 86_400_000;
  // The store counts whole seconds from 2^30 s before it started, up to 2^31 − 1: its current
  // tick reaches the top this long after its start.
  const RANGE_MS = (2 ** 30 - 1) * 1000;

  function refusal(store: MemoryReplayStore, key: string, ttlMs: number): unknown {
    try {
      store.insertIfAbsent(key, ttlMs);
    } catch (error) {
      return error;
    }
    return undefined;
  }

  it.each([35, 60])('still refuses a replay after the clock jumps %i years forward (it rebases)', (years) => {
    const { store, advance } = storeAt(1_700_000_000_123);
    expect(store.insertIfAbsent('before the jump', 46_000)).toBe(true);
    advance(years * YEAR_MS);
    expect(store.insertIfAbsent('stamp', 46_000)).toBe(true);
    expect(store.insertIfAbsent('stamp', 46_000)).toBe(false);
    advance(1000);
    expect(store.insertIfAbsent('stamp', 45_000)).toBe(false);
    // its TTL passed decades ago on this clock: forgetting it is right
    expect(store.insertIfAbsent('before the jump', 46_000)).toBe(true);
    expect(store.size).toBe(2);
  });

  it('a host that booted at 1970 and then got the date from NTP: replays refused, and kept across a step back', () => {
    const { store, advance } = storeAt(5_000);
    expect(store.insertIfAbsent('at boot', 46_000)).toBe(true);
    advance(Date.parse('2025-06-01T00:00:00Z') - 5_000);
    expect(store.insertIfAbsent('after ntp', 46_000)).toBe(true);
    expect(store.insertIfAbsent('after ntp', 46_000)).toBe(false);
    // the clock falls back to 1970 again: now ~55 years before the rebased origin
    advance(-(Date.parse('2025-06-01T00:00:00Z') - 5_000));
    expect(store.insertIfAbsent('after ntp', 46_000)).toBe(false);
  });

  it.each([35, 60])('still refuses a replay after the clock steps %i years back (keys held until it returns)', (years) => {
    const { store, advance } = storeAt(1_700_000_000_123);
    expect(store.insertIfAbsent('before the step', 10_000)).toBe(true);
    advance(-years * YEAR_MS);
    expect(store.insertIfAbsent('before the step', 10_000)).toBe(false);
    expect(store.insertIfAbsent('after the step', 10_000)).toBe(true);
    expect(store.insertIfAbsent('after the step', 10_000)).toBe(false);
    // below its range the store cannot count a TTL down, so it holds the key (safe: longer, never shorter)
    advance(60_000);
    expect(store.insertIfAbsent('after the step', 10_000)).toBe(false);
    // once the clock is back, both expire as usual
    advance(years * YEAR_MS);
    expect(store.insertIfAbsent('after the step', 10_000)).toBe(true);
    expect(store.insertIfAbsent('before the step', 10_000)).toBe(true);
  });

  it('same key twice just inside the range is a replay', () => {
    const { store, advance } = storeAt(1_700_000_000_123);
    advance(RANGE_MS - 5_000);
    expect(store.insertIfAbsent('edge', 4_000)).toBe(true);
    expect(store.insertIfAbsent('edge', 4_000)).toBe(false);
    advance(3_000);
    expect(store.insertIfAbsent('edge', 1_000)).toBe(false);
  });

  it('at the top of its range with a key still live, refuses a TTL it cannot hold (store-unavailable), then rebases once that key expires', () => {
    const { store, advance } = storeAt(1_700_000_000_123);
    advance(RANGE_MS - 30_000);
    expect(store.insertIfAbsent('live', 20_000)).toBe(true);
    const error = refusal(store, 'long', 60_000);
    expect(error).toBeInstanceOf(IpStampError);
    expect((error as IpStampError).reason).toBe('store-unavailable');
    expect((error as IpStampError).code).toBe('ERR_IPSTAMP_STORE_UNAVAILABLE');
    // an outage, not a full store: the verifier applies onStoreError
    expect(isReplayStoreFullError(error)).toBe(false);
    expect((error as Error).cause).toBeInstanceOf(RangeError);
    expect(((error as Error).cause as Error).message).toMatch(/34 years/);
    expect(store.insertIfAbsent('live', 20_000)).toBe(false);
    advance(10_000);
    expect(refusal(store, 'long', 60_000)).toBeInstanceOf(IpStampError);
    expect(store.insertIfAbsent('live', 10_000)).toBe(false);
    advance(10_000);
    expect(store.insertIfAbsent('long', 60_000)).toBe(true);
    expect(store.insertIfAbsent('long', 60_000)).toBe(false);
    expect(store.insertIfAbsent('live', 20_000)).toBe(true);
  });

  it('holds a TTL longer than its whole range for as long as it can count', () => {
    const { store, advance } = storeAt(1_700_000_000_123);
    expect(store.insertIfAbsent('forever', Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(store.insertIfAbsent('forever', Number.MAX_SAFE_INTEGER)).toBe(false);
    advance(30 * YEAR_MS);
    expect(store.insertIfAbsent('forever', Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('never answers true twice for a key before the clock it has seen reaches that key’s expiry (any clock moves; property)', () => {
    const jump = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -5_000, max: 5_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: -70, max: 70 }).map((years) => Math.round(years * YEAR_MS)) },
      // to within a minute and a half of either end of the range, measured from the start
      { weight: 2, arbitrary: fc.tuple(fc.boolean(), fc.integer({ min: -90_000, max: 90_000 })).map(([up, d]) => (up ? 1 : -1) * (RANGE_MS + d)) },
    );
    const step = fc.record({ key: fc.nat(3), ttl: fc.integer({ min: 1, max: 60_000 }), jump });
    fc.assert(
      fc.property(fc.integer({ min: -2e12, max: 4e12 }), fc.array(step, { maxLength: 200 }), (start, steps) => {
        let now = start;
        const store = new MemoryReplayStore({ now: () => now });
        // a key answered true at t with TTL T may be forgotten only once the store has been
        // called at a clock >= t + T (whatever steps back came in between): a monotone measure
        const held = new Map<number, { until: number; highest: number }>();
        for (const { key, ttl, jump: ms } of steps) {
          now += ms;
          for (const entry of held.values()) entry.highest = Math.max(entry.highest, now);
          const entry = held.get(key);
          let answer: boolean;
          try {
            answer = store.insertIfAbsent(`key ${key}`, ttl);
          } catch (error) {
            expect((error as IpStampError).reason).toBe('store-unavailable');
            expect(isReplayStoreFullError(error)).toBe(false);
            continue;
          }
          if (entry !== undefined && entry.highest < entry.until) expect(answer).toBe(false);
          if (answer) held.set(key, { until: now + ttl, highest: now });
        }
      }),
      { numRuns: 500 },
    );
  });
});
