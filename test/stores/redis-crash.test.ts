import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { REDIS_CLIENT_OPTIONS, RedisReplayStore } from '../../server/stores/redis.js';
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

/**
 * Polls with fresh stamps until one is accepted, for at most 10 s (a safety net, not a
 * measurement): true, or the code of the last refusal.
 */
async function freshStampAfterRestart(store: RedisReplayStore): Promise<boolean | string> {
  const started = performance.now();
  let answer: boolean | string = 'none';
  while (answer !== true && performance.now() - started < 10_000) {
    answer = await store.insertIfAbsent(`kid after ${randomUUID()}`, 30_000).then(
      (a) => a,
      (error: unknown) => String((error as { code?: string }).code),
    );
    if (answer !== true) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return answer;
}

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
      expect(await freshStampAfterRestart(store)).toBe(true);
      // The restarted Redis is empty, and the refused stamps were never resent to it: a SET NX
      // sent late would mark used a stamp whose request already failed (its retry: a "replay").
      for (const key of heldKeys) expect(await store.insertIfAbsent(key, 30_000)).toBe(true);
    } finally {
      if (redis.running) redis.resume();
      await store.close();
    }
  }, 30_000);
});

/**
 * docs/replay-stores.md says the store's deadline "also holds for a client you pass in",
 * suggests `{ ...REDIS_CLIENT_OPTIONS, ...yours }` as its base, and promises that once Redis is
 * back "checks succeed again. You do not restart anything". With one common override, ioredis'
 * own `maxRetriesPerRequest` (default 20), ioredis 5 never settles the commands in flight when
 * Redis crashed (it empties its command queue on reconnect without failing them, and
 * `autoResendUnfulfilledCommands` is off). Each kept its maxPending slot for ever: after a crash
 * with maxPending commands on the wire, every stamp was refused as "full" until the process
 * restarted. The store now lets go of what was on a connection when it closes.
 */

/** An app's client on `port`, from either ioredis major, with the store's settings but ioredis' own retries. */
const CLIENTS = [
  { major: 6, connect: (port: number) => new Redis(port, '127.0.0.1', { ...REDIS_CLIENT_OPTIONS, maxRetriesPerRequest: 20 }) },
  { major: 5, connect: (port: number) => new Redis5(port, '127.0.0.1', { ...REDIS_CLIENT_OPTIONS, maxRetriesPerRequest: 20 }) },
];

describe.skipIf(!binary).each(CLIENTS)('RedisReplayStore on a passed-in ioredis $major client with its own maxRetriesPerRequest', ({ connect }) => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis(binary!);
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('takes stamps again after Redis crashed with maxPending commands in flight', async () => {
    const client = connect(redis.port);
    const store = new RedisReplayStore(client, { timeoutMs: 300, maxPending: 3, closeClient: true, onClientError: () => undefined });
    try {
      expect(await store.insertIfAbsent(`kid warm ${randomUUID()}`, 30_000)).toBe(true);
      redis.pause();
      await Promise.allSettled(Array.from({ length: 3 }, () => store.insertIfAbsent(`kid held ${randomUUID()}`, 30_000)));
      await redis.stop('SIGKILL');
      await redis.restart();
      // was 'ERR_IPSTAMP_STORE_FULL' for good with ioredis 5, although Redis answered PING
      expect(await freshStampAfterRestart(store)).toBe(true);
    } finally {
      if (redis.running) redis.resume();
      await store.close();
    }
  }, 30_000);
});
