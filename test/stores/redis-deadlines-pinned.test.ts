import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import { REDIS_CLIENT_OPTIONS, RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';

/**
 * The deadline of each insert, and closing a store while Redis cannot answer, against a real
 * redis-server frozen with SIGSTOP. redis-faults.test.ts checks that inserts are refused and in
 * which order; these check that each is refused at its own deadline — not an earlier insert's,
 * not a later one — and that close() neither hangs on a frozen Redis nor leaves a client
 * reconnecting.
 *
 * No millisecond is measured: each insert is compared with timers set in the same turn, and
 * Node fires timers in the order of their due times even when the event loop runs late.
 */

const binary = requireBinary('redis-server');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What keeps the event loop alive: an unref'd timer is not counted. */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe.skipIf(!binary)('RedisReplayStore deadlines, pinned', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis(binary!);
  });
  afterEach(() => {
    if (redis.running) redis.resume();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it("an insert made while an earlier insert's timer is armed fails at its own deadline, not the earlier one's", async () => {
    const T = 2000;
    const store = new RedisReplayStore(redis.url, { timeoutMs: T, keyPrefix: `deadline:${randomUUID()}:` });
    try {
      // Answered at once: its deadline timer stays armed (unref'd) for T from now.
      expect(await store.insertIfAbsent(`kid warm ${randomUUID()}`, 30_000)).toBe(true);
      // Less than T later (setTimeout waits at least this long), so that timer has not fired yet.
      await sleep(600);
      redis.pause();
      const events: string[] = [];
      const before = timers();
      const held = store.insertIfAbsent(`kid held ${randomUUID()}`, 30_000).then(
        () => events.push('answered'),
        (error: unknown) => events.push(isIpStampError(error) ? `refused ${error.reason}` : 'other error'),
      );
      // the idle timer holds the process again while this insert is pending
      expect(timers() - before).toBe(1);
      // 0.85 T: after the warm insert's deadline (0.3 T ago or more), before this insert's
      const early = sleep(0.85 * T).then(() => events.push('0.85 T'));
      // 2.5 T: well after this insert's deadline
      const late = sleep(2.5 * T).then(() => events.push('2.5 T'));
      await Promise.all([early, late]);
      redis.resume();
      await held;
      expect(events.slice(0, 3)).toEqual(['0.85 T', 'refused store-unavailable', '2.5 T']);
    } finally {
      redis.resume();
      await store.close();
    }
  }, 20_000);

  it('an answered insert leaves no timer holding the process', async () => {
    const store = new RedisReplayStore(redis.url, { timeoutMs: 10_000, keyPrefix: `idle:${randomUUID()}:` });
    try {
      expect(await store.insertIfAbsent(`kid warm ${randomUUID()}`, 30_000)).toBe(true);
      const before = timers();
      const answer = store.insertIfAbsent(`kid next ${randomUUID()}`, 30_000);
      // pending: its deadline holds the process
      expect(timers() - before).toBe(1);
      expect(await answer).toBe(true);
      // answered long before its deadline: a server with nothing else to do may exit
      expect(timers() - before).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('close() on a frozen Redis returns within the deadline instead of waiting for QUIT forever', async () => {
    const T = 300;
    const store = new RedisReplayStore(redis.url, { timeoutMs: T, keyPrefix: `close:${randomUUID()}:` });
    expect(await store.insertIfAbsent(`kid warm ${randomUUID()}`, 30_000)).toBe(true);
    redis.pause();
    try {
      const events: string[] = [];
      const closed = store.close().then(() => events.push('closed'));
      // a shutdown (SIGTERM) must not hang on a Redis that never answers
      const reference = sleep(5 * T).then(() => events.push('5 T'));
      await Promise.race([closed, reference]);
      expect(events[0]).toBe('closed');
    } finally {
      redis.resume();
    }
  });

  it('close() with closeClient stops a client that is still reconnecting to a Redis that is down', async () => {
    const port = await freePort();
    const client = new Redis(port, '127.0.0.1', { ...REDIS_CLIENT_OPTIONS });
    const errors: Error[] = [];
    const store = new RedisReplayStore(client, { timeoutMs: 200, closeClient: true, onClientError: (error) => errors.push(error) });
    // it has tried and failed at least once, and waits to try again: as after a Redis crash
    while (errors.length === 0 || client.status !== 'reconnecting') await sleep(5);
    await store.close();
    const reported = errors.length;
    // REDIS_CLIENT_OPTIONS retries at least every 500 ms: a client left reconnecting would
    // have failed again (ECONNREFUSED, reported at once on loopback) well within three times that
    await sleep(1500);
    expect(errors.length).toBe(reported);
  });
});
