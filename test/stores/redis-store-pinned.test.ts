import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import { REDIS_CLIENT_OPTIONS, RedisReplayStore } from '../../server/stores/redis.js';
import { isReplayStoreFullError } from '../../server/stores/replay-store.js';
import { requireBinary } from '../support/binaries.js';
import { freePort } from '../support/ports.js';
import { countSocketWrites, startRedis, type RedisServer } from '../support/redis.js';

/**
 * What redis.test.ts and redis-faults.test.ts leave unpinned about the Redis replay store:
 * option limits, who owns the client, what a closed store or a closed client answers, the TTL
 * sent for extreme values, and that a refusal never leaks a slot of `maxPending`. Each test
 * names the promise it keeps (docs/replay-stores.md, server/stores/redis.ts).
 */

const binary = requireBinary('redis-server');

/** As in redis.test.ts: these tests are about answers, not deadlines, so connecting may be slow. */
const PATIENT = { timeoutMs: 10_000 };

const outcome = (insert: Promise<boolean>): Promise<{ answer?: boolean; error?: unknown }> =>
  insert.then(
    (answer) => ({ answer }),
    (error: unknown) => ({ error }),
  );

const reasonOf = (error: unknown): string | false => isIpStampError(error) && error.reason;

/** Polls until `check` holds; `withinMs` is only a safety limit, never what the test measures. */
async function until(label: string, check: () => Promise<boolean> | boolean, withinMs = 10_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`never happened: ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Settles on the next turn of the event loop: what "at once" is measured against. */
const nextTurn = (): Promise<'next turn'> => new Promise((resolve) => setImmediate(() => resolve('next turn')));

describe('RedisReplayStore option limits (no server needed)', () => {
  it('takes a keyPrefix of exactly 256 characters, the documented limit, and refuses 257', () => {
    const client = new Redis({ lazyConnect: true });
    try {
      expect(() => new RedisReplayStore(client, { keyPrefix: 'p'.repeat(256) })).not.toThrow();
      expect(() => new RedisReplayStore(client, { keyPrefix: 'p'.repeat(257) })).toThrow(/keyPrefix/);
    } finally {
      client.disconnect();
    }
  });

  it('refuses a maxPending that is not a whole number (it counts commands)', () => {
    const client = new Redis({ lazyConnect: true });
    try {
      for (const maxPending of [1.5, Infinity, Number.NaN, '10' as never]) {
        expect(() => new RedisReplayStore(client, { maxPending }), String(maxPending)).toThrow(/^maxPending must be a positive integer$/);
      }
    } finally {
      client.disconnect();
    }
  });
});

describe.skipIf(!binary)('RedisReplayStore, pinned behaviour on a real redis-server', () => {
  let redis: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis(binary!);
    admin = new Redis(redis.port, '127.0.0.1');
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.close();
  });

  const prefix = (): string => `pinned:${randomUUID()}:`;
  const client = (options: Partial<typeof REDIS_CLIENT_OPTIONS> & { lazyConnect?: boolean } = {}): Redis => new Redis(redis.port, '127.0.0.1', options);

  it('accepts a TTL under one millisecond (rounded up to PX 1, never down to the PX 0 Redis refuses)', async () => {
    const store = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: prefix() });
    try {
      // the contract: any positive finite TTL is an answer, not store-unavailable
      expect(await outcome(store.insertIfAbsent('kid sub-ms', 0.5))).toEqual({ answer: true });
      expect(await outcome(store.insertIfAbsent('kid sub-ms 2', 0.001))).toEqual({ answer: true });
    } finally {
      await store.close();
    }
  });

  it('accepts the longest finite TTLs (capped to what Redis can hold, not sent as "1e+300")', async () => {
    const keyPrefix = prefix();
    const store = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix });
    try {
      for (const ttl of [1e300, Number.MAX_VALUE]) {
        expect(await outcome(store.insertIfAbsent(`kid ${ttl}`, ttl))).toEqual({ answer: true });
        expect(await outcome(store.insertIfAbsent(`kid ${ttl}`, ttl))).toEqual({ answer: false });
      }
      // kept for as long as Redis can count: never given a short expiry instead
      const [key] = await admin.keysBuffer(`${keyPrefix}*`);
      expect(await admin.pttl(key!)).toBeGreaterThan(1e15);
    } finally {
      await store.close();
    }
  });

  it('beyond maxPending the refusal is a full store (ReplayStoreFullError), refused whatever onStoreError says', async () => {
    const store = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: prefix(), maxPending: 1 });
    try {
      expect(await store.insertIfAbsent('kid warm', 30_000)).toBe(true);
      // the first is on the wire until Redis answers it: the second, same turn, is one too many
      const [first, second] = [outcome(store.insertIfAbsent('kid one', 30_000)), outcome(store.insertIfAbsent('kid two', 30_000))];
      const refused = (await second).error;
      expect(isReplayStoreFullError(refused)).toBe(true);
      expect(refused).toMatchObject({ reason: 'store-unavailable', code: 'ERR_IPSTAMP_STORE_FULL' });
      expect(await first).toEqual({ answer: true });
    } finally {
      await store.close();
    }
  });

  it('a refusal by Redis gives its maxPending slot back: after a full Redis frees memory, inserts are taken again', async () => {
    const own = await startRedis(binary!);
    const ownAdmin = new Redis(own.port, '127.0.0.1');
    // more refusals than maxPending: a slot kept by each would leave the store full for good
    const store = new RedisReplayStore(own.url, { ...PATIENT, keyPrefix: prefix(), maxPending: 2 });
    try {
      expect(await store.insertIfAbsent('kid before', 30_000)).toBe(true);
      await ownAdmin.config('SET', 'maxmemory-policy', 'noeviction');
      await ownAdmin.config('SET', 'maxmemory', '1');
      for (let i = 0; i < 4; i++) {
        const { error } = await outcome(store.insertIfAbsent(`kid oom ${i}`, 30_000));
        expect(isReplayStoreFullError(error), `refusal ${i}`).toBe(true);
      }
      await ownAdmin.config('SET', 'maxmemory', '0');
      expect(await outcome(store.insertIfAbsent('kid after', 30_000))).toEqual({ answer: true });
    } finally {
      await store.close();
      ownAdmin.disconnect();
      await own.close();
    }
  });

  it('a store closed on a client it does not own answers store-unavailable, and leaves the client working', async () => {
    const own = client();
    const store = new RedisReplayStore(own, { ...PATIENT, keyPrefix: prefix() });
    try {
      expect(await store.insertIfAbsent('kid before', 30_000)).toBe(true);
      await store.close();
      // the client is still connected and ready: only the store refuses, never "absent"
      for (const key of ['kid before', 'kid after']) {
        expect(reasonOf((await outcome(store.insertIfAbsent(key, 30_000))).error)).toBe('store-unavailable');
      }
      expect(await own.ping()).toBe('PONG');
    } finally {
      own.disconnect();
    }
  });

  it('an insert waiting for the connection when the store closes fails at once, and is never written later', async () => {
    const keyPrefix = prefix();
    // lazyConnect: the insert starts the connection and waits for it; ioredis' offline queue
    // (on by default) would otherwise send the SET once connected, after the store was closed
    const own = client({ lazyConnect: true });
    const store = new RedisReplayStore(own, { ...PATIENT, keyPrefix });
    const check = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix });
    try {
      const waiting = outcome(store.insertIfAbsent('kid waiting', 30_000));
      await store.close();
      // failed by close() itself, not left to run into its deadline
      expect(await Promise.race([waiting.then(() => 'settled'), nextTurn()])).toBe('settled');
      expect(reasonOf((await waiting).error)).toBe('store-unavailable');
      await own.ping();
      // the stamp was not marked used behind the caller's back
      expect(await check.insertIfAbsent('kid waiting', 30_000)).toBe(true);
    } finally {
      own.disconnect();
      await check.close();
    }
  });

  it('connects a lazyConnect client passed in, on the first insert', async () => {
    const own = client({ lazyConnect: true });
    const store = new RedisReplayStore(own, { ...PATIENT, keyPrefix: prefix(), closeClient: true });
    try {
      expect(own.status).toBe('wait');
      expect(await outcome(store.insertIfAbsent('kid lazy', 30_000))).toEqual({ answer: true });
    } finally {
      await store.close();
    }
  });

  it('a client its owner has quit fails inserts at once, not after the deadline', async () => {
    const own = client();
    await own.ping();
    await own.quit();
    await until('the client to end', () => own.status === 'end');
    // a deadline far longer than the test: only an immediate refusal can win the race below
    const store = new RedisReplayStore(own, { keyPrefix: prefix(), timeoutMs: 60_000 });
    try {
      const insert = outcome(store.insertIfAbsent('kid after quit', 30_000));
      expect(await Promise.race([insert.then(() => 'refused'), nextTurn()])).toBe('refused');
      expect(reasonOf((await insert).error)).toBe('store-unavailable');
    } finally {
      await store.close();
    }
  });

  it('quits the client it made from a URL when closed: its connection to Redis goes away', async () => {
    const own = await startRedis(binary!);
    const ownAdmin = new Redis(own.port, '127.0.0.1');
    const connected = async (): Promise<number> => Number(/connected_clients:(\d+)/.exec(await ownAdmin.info('clients'))![1]);
    try {
      await ownAdmin.ping();
      const store = new RedisReplayStore(own.url, { ...PATIENT, keyPrefix: prefix() });
      expect(await store.insertIfAbsent('kid one', 30_000)).toBe(true);
      expect(await connected()).toBe(2);
      await store.close();
      // only the admin connection is left (Redis notices the close a moment after QUIT)
      await until('the store connection to close', async () => (await connected()) === 1);
    } finally {
      ownAdmin.disconnect();
      await own.close();
    }
  });

  it('tells onClientError of the connection errors of a client passed in', async () => {
    const port = await freePort();
    const errors: Error[] = [];
    const own = new Redis(port, '127.0.0.1', { ...REDIS_CLIENT_OPTIONS });
    const store = new RedisReplayStore(own, { keyPrefix: prefix(), onClientError: (error) => errors.push(error), closeClient: true });
    try {
      await until('a connection error to be reported', () => errors.length > 0);
      expect(errors[0]).toBeInstanceOf(Error);
    } finally {
      await store.close();
    }
  });

  it('an onClientError that throws neither escapes nor stops the reconnection: the store recovers', async () => {
    const port = await freePort();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    let calls = 0;
    const store = new RedisReplayStore(`redis://127.0.0.1:${port}`, {
      timeoutMs: 1000,
      keyPrefix: prefix(),
      onClientError: () => {
        calls++;
        throw new Error('the logger failed');
      },
    });
    let late: RedisServer | undefined;
    try {
      await until('onClientError to be called twice', () => calls >= 2);
      late = await startRedis(binary!, { port });
      await until('an insert to be accepted', async () => (await outcome(store.insertIfAbsent(`kid ${randomUUID()}`, 30_000))).answer === true, 15_000);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await store.close();
      await late?.close();
    }
  });

  it('the inserts of separate callbacks of one event-loop phase leave in one write (uncorked after the turn, not after each callback)', async () => {
    const own = client();
    await own.ping();
    const writes = countSocketWrites(own.stream);
    const store = new RedisReplayStore(own, { ...PATIENT, keyPrefix: prefix(), closeClient: true });
    try {
      // Between two callbacks of one phase (two requests' I/O callbacks in one poll phase) Node
      // runs the process.nextTick jobs, then the promise jobs; an async handler's insert comes
      // from either. Two timers would show it only when both fall due in the same millisecond,
      // which a loaded machine does not promise, so one callback queues both kinds of job.
      const answers: Promise<boolean>[] = [];
      await new Promise<void>((resolve) => {
        setTimeout(() => {
          answers.push(store.insertIfAbsent('kid a', 30_000), store.insertIfAbsent('kid b', 30_000));
          process.nextTick(() => answers.push(store.insertIfAbsent('kid c', 30_000)));
          queueMicrotask(() => {
            answers.push(store.insertIfAbsent('kid d', 30_000));
            resolve();
          });
        }, 1);
      });
      expect(await Promise.all(answers)).toEqual([true, true, true, true]);
      expect(writes).toEqual([4]);
    } finally {
      await store.close();
    }
  });
});
