import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { startRedis, type RedisServer } from '../support/redis.js';

/**
 * Commands left unanswered on a connection that drops (Redis frozen, then killed) must fail
 * with the connection, not wait in ioredis for a reconnection that never answers them: each
 * counts towards `maxPending` until it settles, so commands kept forever would leave the store
 * refusing every stamp ("full") after Redis is back; nor be resent to the new Redis, which
 * would mark stamps used whose requests already failed. REDIS_CLIENT_OPTIONS (no retries per
 * request, no resending) is what makes them fail at once.
 */

const binary = requireBinary('redis-server');

describe.skipIf(!binary)('RedisReplayStore after Redis dies with commands in flight', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis(binary!);
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('gives back every maxPending slot the dropped connection held, and takes stamps again once Redis is back', async () => {
    const store = new RedisReplayStore(redis.url, { timeoutMs: 300, maxPending: 3, onClientError: () => undefined });
    try {
      expect(await store.insertIfAbsent(`kid warm ${randomUUID()}`, 30_000)).toBe(true);
      redis.pause();
      // three commands on the wire, unanswered: maxPending is reached
      const heldKeys = Array.from({ length: 3 }, () => `kid held ${randomUUID()}`);
      const held = await Promise.all(
        heldKeys.map((key) =>
          store.insertIfAbsent(key, 30_000).then(
            () => 'answered',
            (error: unknown) => isIpStampError(error) && error.reason,
          ),
        ),
      );
      expect(held).toEqual(['store-unavailable', 'store-unavailable', 'store-unavailable']);
      // a crash while frozen: the connection drops with the three still unanswered
      await redis.stop('SIGKILL');
      await redis.restart();
      // polls with fresh stamps (the limit is a safety net, not a measurement)
      const started = performance.now();
      let answer: boolean | string = 'none';
      while (answer !== true && performance.now() - started < 10_000) {
        answer = await store.insertIfAbsent(`kid after ${randomUUID()}`, 30_000).then(
          (a) => a,
          (error: unknown) => String((error as { code?: string }).code),
        );
        if (answer !== true) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(answer).toBe(true);
      // The restarted Redis is empty, and the refused stamps were never resent to it: a SET NX
      // sent late would mark used a stamp whose request already failed (its retry: a "replay").
      for (const key of heldKeys) expect(await store.insertIfAbsent(key, 30_000)).toBe(true);
    } finally {
      if (redis.running) redis.resume();
      await store.close();
    }
  }, 30_000);
});
