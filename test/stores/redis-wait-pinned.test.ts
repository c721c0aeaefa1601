import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIpStampError } from '../../shared/errors.js';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { startRedis, type RedisServer } from '../support/redis.js';

/**
 * `waitForReplicas` promises that a stamp is accepted only once N replicas hold its key. A
 * `WAIT` that fails outright — here refused by an ACL, as a managed Redis may restrict it — is
 * no acknowledgement: the insert must fail closed, not count the `SET` alone as durable.
 */

const binary = requireBinary('redis-server');

describe.skipIf(!binary)('RedisReplayStore waitForReplicas when WAIT itself fails', () => {
  let redis: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis(binary!);
    admin = new Redis(redis.port, '127.0.0.1');
    // a user that may SET but not WAIT
    await admin.call('ACL', 'SETUSER', 'nowait', 'on', '>pw', '~*', '&*', '+@all', '-wait');
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.close();
  });

  it('fails the insert store-unavailable, and the stamp stays used', async () => {
    const keyPrefix = `nowait:${randomUUID()}:`;
    const durable = new RedisReplayStore(`redis://nowait:pw@127.0.0.1:${redis.port}`, { keyPrefix, waitForReplicas: 1, timeoutMs: 10_000 });
    const plain = new RedisReplayStore(redis.url, { keyPrefix, timeoutMs: 10_000 });
    try {
      const error = await durable.insertIfAbsent('kid new', 30_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isIpStampError(error) && error.reason).toBe('store-unavailable');
      expect(String((error as Error).cause)).toMatch(/NOPERM/);
      // the SET ran: failing closed never reopens the stamp
      expect(await plain.insertIfAbsent('kid new', 30_000)).toBe(false);
      // a replay is still answered as one, without waiting for WAIT
      expect(await durable.insertIfAbsent('kid new', 30_000)).toBe(false);
    } finally {
      await Promise.all([durable.close(), plain.close()]);
    }
  });
});
