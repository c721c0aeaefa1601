import { afterEach, describe, expect, it, vi } from 'vitest';
import { IpStampError } from '../../shared/errors.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { isReplayStoreFullError } from '../../server/stores/replay-store.js';

/**
 * Cases memory.test.ts left open (found by mutation testing): which held key keeps the store
 * from rebasing near the top of its ~34-year range, a second far jump after a rebase, a clock
 * that returns a non-finite time, the bounds of maxEntries, and the per-store hash key.
 */

const YEAR_MS = 365.25 * 86_400_000;
/** The store counts whole seconds from 2^30 s before it started up to 2^31 − 1: its current tick reaches the top this long after its start. */
const RANGE_MS = (2 ** 30 - 1) * 1000;

function storeAt(start: number): { store: MemoryReplayStore; advance: (ms: number) => void } {
  let now = start;
  const store = new MemoryReplayStore({ now: () => now });
  return { store, advance: (ms) => void (now += ms) };
}

function refusal(store: MemoryReplayStore, key: string, ttlMs: number): unknown {
  try {
    store.insertIfAbsent(key, ttlMs);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('MemoryReplayStore near the top of its range', () => {
  it('a short key expiring first does not let it rebase while a longer one is live (that would forget a fresh stamp)', () => {
    // start counting exactly on a second, so that the ticks below are exact
    const { store, advance } = storeAt(1_700_000_000_000);
    advance(RANGE_MS - 120_000); // 120 s before the top of the range
    expect(store.insertIfAbsent('long', 100_000)).toBe(true); // held until 20 s before the top
    expect(store.insertIfAbsent('short', 1_000)).toBe(true); // the last written, and the first to expire
    advance(5_000);
    // 'short' has expired, 'long' has not: the store must not empty its table to take a TTL it
    // cannot hold from here; it refuses (an outage) instead
    const error = refusal(store, 'other', 200_000);
    expect(error).toBeInstanceOf(IpStampError);
    expect((error as IpStampError).reason).toBe('store-unavailable');
    expect(isReplayStoreFullError(error)).toBe(false);
    // so 'long' is still a replay
    expect(store.insertIfAbsent('long', 100_000)).toBe(false);
    expect(store.insertIfAbsent('short', 1_000)).toBe(true);
  });

  it('after one rebase, rebases again once its new keys expire, even if a key before the first held the whole range', () => {
    const { store, advance } = storeAt(1_700_000_000_000);
    // held for as long as the store can count: until the top of its range
    expect(store.insertIfAbsent('forever', Number.MAX_SAFE_INTEGER)).toBe(true);
    advance(70 * YEAR_MS); // past the top: every key written has expired, so it rebases
    expect(store.insertIfAbsent('a', 46_000)).toBe(true);
    expect(store.insertIfAbsent('a', 46_000)).toBe(false);
    // decades later the clock nears the top of the new range; 'a' expired long ago. The table it
    // emptied no longer holds the key of the first range, so nothing keeps it from rebasing again.
    advance(RANGE_MS - 10_000);
    expect(store.insertIfAbsent('b', 46_000)).toBe(true);
    expect(store.insertIfAbsent('b', 46_000)).toBe(false);
    advance(45_000);
    expect(store.insertIfAbsent('b', 46_000)).toBe(false);
  });

  it('a replay refused near the top does not count as a key written: it rebases once the key that was held expires', () => {
    // docs/replay-stores.md: it rebases "once the clock is past every expiry it has written". A
    // replay writes nothing; counting its longer TTL would refuse (an outage, which
    // onStoreError: 'accept' lets through unchecked) for longer than any key is held.
    const { store, advance } = storeAt(1_700_000_000_000);
    advance(RANGE_MS - 60_000);
    expect(store.insertIfAbsent('k', 10_000)).toBe(true);
    expect(store.insertIfAbsent('k', 50_000)).toBe(false);
    advance(11_000); // 'k' has expired; nothing is held
    expect(store.insertIfAbsent('new', 60_000)).toBe(true);
    expect(store.insertIfAbsent('new', 60_000)).toBe(false);
  });

  it('holds a fractional TTL taken right after a rebase for its whole length', () => {
    const { store, advance } = storeAt(1_700_000_000_000);
    expect(store.insertIfAbsent('before the jump', 46_000)).toBe(true);
    advance(35 * YEAR_MS);
    // the first insert after the jump rebases; its expiry must round up, as every other does
    expect(store.insertIfAbsent('stamp', 45_500)).toBe(true);
    advance(45_000);
    expect(store.insertIfAbsent('stamp', 45_500)).toBe(false);
    advance(1_500);
    expect(store.insertIfAbsent('stamp', 45_500)).toBe(true);
  });
});

describe('MemoryReplayStore with a clock that returns a non-finite time', () => {
  it.each([Infinity, -Infinity, Number.NaN])('throws a TypeError for now() = %s and keeps what it holds', (bad) => {
    // an infinite time would rebase the store onto an infinite origin: every key forgotten,
    // and every later expiry NaN, which the table stores as 0 (an empty slot): replays accepted
    let value = 1_700_000_000_000;
    const store = new MemoryReplayStore({ now: () => value });
    expect(store.insertIfAbsent('held', 30_000)).toBe(true);
    value = bad;
    expect(() => store.insertIfAbsent('during', 30_000)).toThrow(TypeError);
    value = 1_700_000_001_000;
    expect(store.insertIfAbsent('held', 30_000)).toBe(false);
    expect(store.insertIfAbsent('after', 30_000)).toBe(true);
    expect(store.insertIfAbsent('after', 30_000)).toBe(false);
  });
});

describe('MemoryReplayStore options', () => {
  it('takes every maxEntries from 1 to 100,000,000, as its error message says, and starts no larger than the cap needs', () => {
    // the table starts small whatever the cap: making the largest store allocates 1,024 slots
    const largest = new MemoryReplayStore({ maxEntries: 100_000_000, now: () => 0 });
    expect(largest.maxEntries).toBe(100_000_000);
    expect(largest.byteLength).toBe(1024 * 20);
    expect(() => new MemoryReplayStore({ maxEntries: 100_000_001 })).toThrow(/maxEntries must be an integer from 1 to 100000000/);
    // and a small cap allocates no more than it needs: 100 keys fit 256 slots within the load limit
    expect(new MemoryReplayStore({ maxEntries: 100 }).byteLength).toBe(256 * 20);
    const smallest = new MemoryReplayStore({ maxEntries: 1, now: () => 0 });
    expect(smallest.insertIfAbsent('only', 10_000)).toBe(true);
    expect(() => smallest.insertIfAbsent('second', 10_000)).toThrow(IpStampError);
  });
});

describe('MemoryReplayStore hash key', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('draws a fresh 16-byte key from the CSPRNG for each store', () => {
    // docs/replay-stores.md: "The hash key is secret and differs for each process, so nobody
    // can construct keys that collide or that crowd into one part of the table." A fixed key
    // would answer every test the same; what shows it is the draw.
    const draw = vi.spyOn(globalThis.crypto, 'getRandomValues');
    new MemoryReplayStore();
    new MemoryReplayStore();
    const keys = draw.mock.calls.map(([array]) => array).filter((array) => array instanceof Uint8Array && array.length === 16);
    expect(keys).toHaveLength(2);
    expect(keys[0]).not.toBe(keys[1]);
  });
});
