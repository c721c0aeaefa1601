import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { isReplayStoreFullError } from '../../server/stores/replay-store.js';
import { requireBinary } from '../support/binaries.js';
import { countSocketWrites, startRedis, type RedisServer } from '../support/redis.js';
import { describeReplayStoreContract } from './replay-store-contract.js';

const binary = requireBinary('redis-server');

/**
 * The stores here are about what Redis keeps, not about deadlines (redis-faults.test.ts and the
 * waitForReplicas test below are): the default 200 ms deadline, which includes connecting, was
 * missed by a first insert on a machine running three test files at once.
 */
const PATIENT = { timeoutMs: 10_000 };

describe('RedisReplayStore arguments (no server needed: checked before any connection)', () => {
  it('names the parameter as documented, urlOrClient, when it is neither a URL nor a client', () => {
    expect(() => new RedisReplayStore(undefined as never)).toThrow(/^urlOrClient must be an ioredis client or a URL: /);
    expect(() => new RedisReplayStore({} as never)).toThrow(/^urlOrClient must be/);
  });

  it('rejects an unknown option with a TypeError naming it', () => {
    expect(() => new RedisReplayStore('redis://127.0.0.1:1', { timeout: 100 } as never)).toThrow(/^unknown option "timeout"/);
    expect(() => new RedisReplayStore('redis://127.0.0.1:1', { keyprefix: 'x:' } as never)).toThrow(
      new TypeError('unknown option "keyprefix" (did you mean "keyPrefix"?)'),
    );
  });
});

describe.skipIf(!binary)('RedisReplayStore on a real redis-server', () => {
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

  // Each store gets its own key prefix, so that tests sharing the server cannot see each other.
  describeReplayStoreContract('RedisReplayStore (URL)', () => new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: `test:${randomUUID()}:` }));
  describeReplayStoreContract('RedisReplayStore (client passed in)', () => {
    const client = new Redis(redis.port, '127.0.0.1');
    return new RedisReplayStore(client, { ...PATIENT, keyPrefix: `test:${randomUUID()}:`, closeClient: true });
  });
  // an app still on ioredis 5 passes its own client (TypeScript accepts it: this file compiles)
  describeReplayStoreContract('RedisReplayStore (an ioredis 5 client passed in)', () => {
    const client = new Redis5(redis.port, '127.0.0.1');
    return new RedisReplayStore(client, { ...PATIENT, keyPrefix: `test:${randomUUID()}:`, closeClient: true });
  });

  it('a Redis at maxmemory (noeviction) is a full store: ReplayStoreFullError, refused whatever onStoreError says', async () => {
    const own = await startRedis(binary!);
    const ownAdmin = new Redis(own.port, '127.0.0.1');
    const store = new RedisReplayStore(own.url, { ...PATIENT, keyPrefix: `oom:${randomUUID()}:` });
    try {
      expect(await store.insertIfAbsent('kid jti-before', 30_000)).toBe(true);
      await ownAdmin.config('SET', 'maxmemory-policy', 'noeviction');
      await ownAdmin.config('SET', 'maxmemory', '1');
      const error = await store.insertIfAbsent('kid jti-after', 30_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isReplayStoreFullError(error)).toBe(true);
      expect(error).toMatchObject({ reason: 'store-unavailable', code: 'ERR_IPSTAMP_STORE_FULL' });
    } finally {
      await store.close();
      ownAdmin.disconnect();
      await own.close();
    }
  });

  it('shares what it has seen between stores on the same Redis, as servers behind one LB must', async () => {
    const prefix = `shared:${randomUUID()}:`;
    const one = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: prefix });
    const two = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: prefix });
    try {
      expect(await one.insertIfAbsent('kid jti-1', 30_000)).toBe(true);
      expect(await two.insertIfAbsent('kid jti-1', 30_000)).toBe(false);
      for (let round = 0; round < 5; round++) {
        const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).insertIfAbsent(`race ${round}`, 30_000)));
        expect(answers.filter(Boolean)).toHaveLength(1);
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('one write per turn: the inserts of one event-loop turn leave in one write, and each gets its own answer', async () => {
    const client = new Redis(redis.port, '127.0.0.1');
    await client.ping();
    const writes = countSocketWrites(client.stream);
    const store = new RedisReplayStore(client, { ...PATIENT, keyPrefix: `turn:${randomUUID()}:`, closeClient: true });
    try {
      // repeats within the turn: Redis answers in order, so the first of each is the fresh one
      const jtis = ['a', 'b', 'a', 'c', 'b', ...Array.from({ length: 40 }, (_, i) => `n${i}`), 'c'];
      const answers = await Promise.all(jtis.map((jti) => store.insertIfAbsent(`kid ${jti}`, 30_000)));
      expect(answers).toEqual(jtis.map((jti, i) => jtis.indexOf(jti) === i));
      expect(writes).toEqual([jtis.length]);
      // the next turn's inserts are the next write
      expect(await Promise.all([store.insertIfAbsent('kid a', 30_000), store.insertIfAbsent('kid z', 30_000)])).toEqual([false, true]);
      expect(writes).toEqual([jtis.length, 2]);
    } finally {
      await store.close();
    }
  });

  it('stores one key per stamp: the prefix and the first 16 bytes of SHA-256(UTF-8 key), raw, expiring with the TTL', async () => {
    const prefix = `layout:${randomUUID()}:`;
    const store = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: prefix });
    try {
      const key = `kid-1 ${'é'.repeat(500)}`;
      const insertedFrom = Date.now();
      expect(await store.insertIfAbsent(key, 30_000.4)).toBe(true);
      const expected = Buffer.concat([Buffer.from(prefix), createHash('sha256').update(Buffer.from(key, 'utf8')).digest().subarray(0, 16)]);
      expect(expected.includes(0x7b)).toBe(false); // (this key's hash has no "{" to fold: see redis-topologies.test.ts)
      expect(await admin.keysBuffer(`${prefix}*`)).toEqual([expected]);
      expect(expected.length).toBe(prefix.length + 16);
      expect(await admin.get(expected)).toBe('1');
      const ttl = await admin.pttl(expected);
      // 30,001 ms (rounded up) less what has passed since: bracketed by the time this took, so a
      // slow machine widens the window instead of failing it
      const passed = Date.now() - insertedFrom;
      expect(ttl).toBeGreaterThanOrEqual(30_001 - passed - 1);
      expect(ttl).toBeLessThanOrEqual(30_001);
    } finally {
      await store.close();
    }
  });

  it('waitForReplicas on a Redis without replicas: every new key fails closed (store-unavailable) at the deadline; a replay is still a replay', async () => {
    const prefix = `durable:${randomUUID()}:`;
    const plain = new RedisReplayStore(redis.url, { ...PATIENT, keyPrefix: prefix });
    const durable = new RedisReplayStore(redis.url, { keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 150 });
    try {
      expect(await plain.insertIfAbsent('kid seen', 30_000)).toBe(true);
      const error = await durable.insertIfAbsent('kid new', 30_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ reason: 'store-unavailable' });
      expect(await durable.insertIfAbsent('kid seen', 30_000)).toBe(false);
      // the refused insert still marked its stamp used: failing closed never reopens it
      expect(await plain.insertIfAbsent('kid new', 30_000)).toBe(false);
    } finally {
      await Promise.all([plain.close(), durable.close()]);
    }
  });

  it('measures what a key costs Redis (for sizing)', async () => {
    const prefix = `ipstamp:r:`;
    // a sizing run, not a deadline test: 500 inserts at once on a loaded machine can take longer than the 200 ms default
    const store = new RedisReplayStore(admin, { keyPrefix: prefix, timeoutMs: 60_000 });
    await admin.flushdb();
    const before = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    // 24,576 keys fill both of Redis' hash tables (32,768 buckets each) to 0.75, as a steady state does on average
    const count = 24_576;
    for (let i = 0; i < count; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => store.insertIfAbsent(`kid-${i + j} ${randomUUID()}`, 60_000)));
    }
    const after = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    const [one] = await admin.keysBuffer(`${prefix}*`).then((keys) => keys.slice(0, 1));
    const usage = Number(await admin.call('MEMORY', 'USAGE', one!));
    const perKey = (after - before) / count;
    console.log(`Redis memory per replay key: MEMORY USAGE ${usage} B; used_memory delta ${perKey.toFixed(1)} B/key over ${count} keys`);
    expect(usage).toBeGreaterThan(43);
    expect(perKey).toBeLessThan(140);
    await store.close();
    // The client was passed in: closing the store leaves it to its owner.
    expect(await admin.ping()).toBe('PONG');
    await admin.flushdb();
  });

  it('rejects bad options with a TypeError that does not repeat the URL', () => {
    expect(() => new RedisReplayStore('http://user:s3cret@127.0.0.1:6379')).toThrow(TypeError);
    try {
      new RedisReplayStore('memcached://user:s3cret@127.0.0.1:1');
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret');
    }
    expect(() => new RedisReplayStore('redis://127.0.0.1:1/not-a-db')).toThrow(TypeError);
    expect(() => new RedisReplayStore({} as never)).toThrow(TypeError);
    for (const timeoutMs of [0, -5, Number.NaN, 1e9]) {
      expect(() => new RedisReplayStore(admin, { timeoutMs })).toThrow(/timeoutMs/);
    }
    expect(() => new RedisReplayStore(admin, { maxPending: 0 })).toThrow(/maxPending/);
    expect(() => new RedisReplayStore(admin, { keyPrefix: 5 as never })).toThrow(/keyPrefix/);
    for (const waitForReplicas of [-1, 1.5, Number.NaN, 101, '1' as never]) {
      expect(() => new RedisReplayStore(admin, { waitForReplicas })).toThrow(/waitForReplicas/);
    }
  });
});
