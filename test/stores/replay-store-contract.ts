import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';

export interface ReplayStoreContractOptions {
  /** Lets `ms` pass for the stores made: move their injected clock, or sleep (the default). */
  advance?: (ms: number) => void | Promise<void>;
  /**
   * TTL of the expiry tests (default 600 ms): a store on a real clock is asked again a quarter
   * of it after the insert, so a loaded machine has 450 ms before the key may rightly be gone.
   */
  ttlMs?: number;
  /** How long past its TTL the store may still remember a key (its expiry resolution). */
  expirySlackMs?: number;
}

/** Any UTF-16 code unit, lone surrogates included: keys are strings, not text. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Keys no store may confuse: empty, NUL, lone surrogates (distinct in UTF-16, not in UTF-8), long. */
export const AWKWARD_KEYS: readonly string[] = [
  '',
  ' ',
  '\0',
  '\0\0',
  'k',
  'k ',
  'K',
  'é',
  'e\u0301',
  '🦜',
  '\uD83E',
  '\uDD9C',
  '\uD800',
  '\uDC00',
  '\uFFFD',
  'kid-1 jti',
  'kid-1  jti',
  'kid-1\tjti',
  'a'.repeat(10_000),
  'a'.repeat(9_999) + 'b',
  'a'.repeat(10_001),
  '\u4e2d\u6587 ' + 'ß'.repeat(300),
];

/**
 * What every ReplayStore promises (server/stores/replay-store.ts), run against a fresh store
 * per test: first insert true, then false until the TTL has passed; keys are independent and
 * opaque; concurrent inserts of one key let exactly one through; a closed store answers
 * store-unavailable, never "absent".
 */
export function describeReplayStoreContract(name: string, makeStore: () => Promise<ReplayStore> | ReplayStore, options: ReplayStoreContractOptions = {}): void {
  const { advance = sleep, ttlMs = 600, expirySlackMs = 50 } = options;
  const LONG = 60_000;

  describe(`ReplayStore contract: ${name}`, () => {
    const opened: ReplayStore[] = [];
    const open = async (): Promise<ReplayStore> => {
      const store = await makeStore();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      // eslint-disable-next-line @typescript-eslint/await-thenable -- close may answer synchronously
      await Promise.all(opened.splice(0).map((store) => store.close?.()));
    });

    it('answers true for a new key and false for every later insert of it', async () => {
      const store = await open();
      expect(await store.insertIfAbsent('kid-1 jti-aaaa', LONG)).toBe(true);
      expect(await store.insertIfAbsent('kid-1 jti-aaaa', LONG)).toBe(false);
      expect(await store.insertIfAbsent('kid-1 jti-aaaa', 1)).toBe(false);
      expect(await store.insertIfAbsent('kid-1 jti-aaaa', LONG * 10)).toBe(false);
    });

    it('keeps keys independent, however alike', async () => {
      const store = await open();
      for (const key of AWKWARD_KEYS) expect(await store.insertIfAbsent(key, LONG), JSON.stringify(key.slice(0, 20))).toBe(true);
      for (const key of AWKWARD_KEYS) expect(await store.insertIfAbsent(key, LONG)).toBe(false);
    });

    it('keeps distinct random keys apart (property)', async () => {
      const store = await open();
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(fc.string({ unit: codeUnit, maxLength: 40 }), { minLength: 1, maxLength: 20 }), async (keys) => {
          // Each run gets its own namespace, so one store serves every run.
          const prefix = `run-${round++}:`;
          for (const key of keys) expect(await store.insertIfAbsent(prefix + key, LONG)).toBe(true);
          for (const key of keys) expect(await store.insertIfAbsent(prefix + key, LONG)).toBe(false);
        }),
        { numRuns: 30 },
      );
    });

    it('remembers a key for its whole TTL, and forgets it after', async () => {
      const store = await open();
      expect(await store.insertIfAbsent('expiring', ttlMs)).toBe(true);
      await advance(ttlMs / 4);
      expect(await store.insertIfAbsent('expiring', ttlMs)).toBe(false);
      await advance((ttlMs * 3) / 4 + expirySlackMs);
      expect(await store.insertIfAbsent('expiring', ttlMs)).toBe(true);
      expect(await store.insertIfAbsent('expiring', ttlMs)).toBe(false);
    });

    it('expires each key on its own TTL', async () => {
      const store = await open();
      expect(await store.insertIfAbsent('short', ttlMs)).toBe(true);
      expect(await store.insertIfAbsent('long', LONG)).toBe(true);
      await advance(ttlMs + expirySlackMs);
      expect(await store.insertIfAbsent('short', LONG)).toBe(true);
      expect(await store.insertIfAbsent('long', LONG)).toBe(false);
    });

    it('lets exactly one of many concurrent inserts of a key through', async () => {
      const store = await open();
      for (let round = 0; round < 5; round++) {
        // eslint-disable-next-line @typescript-eslint/await-thenable -- a synchronous store answers booleans
        const answers = await Promise.all(Array.from({ length: 50 }, () => store.insertIfAbsent(`race ${round}`, LONG)));
        expect(answers.filter(Boolean)).toHaveLength(1);
      }
    });

    it('accepts fractional and very long TTLs', async () => {
      const store = await open();
      // a fraction of a millisecond must round up, never to PX 0 (an error in Redis); long
      // enough that the second insert cannot race the expiry on a loaded machine
      expect(await store.insertIfAbsent('fractional', 5000.5)).toBe(true);
      expect(await store.insertIfAbsent('fractional', 5000.5)).toBe(false);
      expect(await store.insertIfAbsent('decades', 1e12)).toBe(true);
      expect(await store.insertIfAbsent('decades', 1e12)).toBe(false);
    });

    it('rejects arguments no caller should pass with a TypeError, not an answer', async () => {
      const store = await open();
      const call = (key: unknown, ttl: unknown): Promise<unknown> => Promise.resolve().then(() => store.insertIfAbsent(key as string, ttl as number));
      for (const ttl of [0, -1, Number.NaN, Infinity, '1000', undefined]) {
        await expect(call('k', ttl)).rejects.toThrow(TypeError);
      }
      for (const key of [undefined, null, 42, { toString: () => 'k' }]) {
        await expect(call(key, LONG)).rejects.toThrow(TypeError);
      }
      // Nothing was stored by the refused calls.
      expect(await store.insertIfAbsent('k', LONG)).toBe(true);
    });

    it('answers store-unavailable once closed, never "absent"', async () => {
      const store = await open();
      expect(await store.insertIfAbsent('before close', LONG)).toBe(true);
      await store.close?.();
      await store.close?.();
      for (const key of ['before close', 'after close']) {
        const outcome = await Promise.resolve()
          .then(() => store.insertIfAbsent(key, LONG))
          .then(
            (answer) => ({ answer }),
            (error: unknown) => ({ error }),
          );
        expect(outcome).not.toHaveProperty('answer');
        expect(isIpStampError((outcome as { error: unknown }).error)).toBe(true);
        expect((outcome as { error: { reason: string } }).error.reason).toBe('store-unavailable');
      }
    });
  });
}
