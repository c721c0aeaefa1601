import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_CLIENT_OPTIONS, RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { startRedis, type RedisServer } from '../support/redis.js';

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

const binary = requireBinary('redis-server');

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
      const started = performance.now();
      let answer: boolean | string = 'none';
      while (answer !== true && performance.now() - started < 10_000) {
        answer = await store.insertIfAbsent(`kid after ${randomUUID()}`, 30_000).then(
          (a) => a,
          (error: unknown) => String((error as { code?: string }).code),
        );
        if (answer !== true) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // was 'ERR_IPSTAMP_STORE_FULL' for good with ioredis 5, although Redis answered PING
      expect(answer).toBe(true);
    } finally {
      if (redis.running) redis.resume();
      await store.close();
    }
  }, 30_000);
});
