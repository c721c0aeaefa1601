import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { ask, clusterSlot, replayKeyOf, SENTINEL_NAME, startCluster, startSentinels, type RedisTopology } from '../support/redis-topology.js';
import { countSocketWrites } from '../support/redis.js';
import { describeReplayStoreContract } from './replay-store-contract.js';

const server = requireBinary('redis-server');
const cli = requireBinary('redis-cli');

/** The Redis key the store writes for `key` (see stores/redis.ts). */
const redisKeyOf = replayKeyOf;

const outcome = (insert: Promise<boolean>): Promise<boolean | string> =>
  insert.then(
    (answer) => answer,
    (error: { reason?: string }) => `error ${error.reason}`,
  );

let cluster: RedisTopology | undefined;
let sentinel: Awaited<ReturnType<typeof startSentinels>> | undefined;

beforeAll(async () => {
  if (!server || !cli) return;
  [cluster, sentinel] = await Promise.all([startCluster(server, cli), startSentinels(server)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([cluster?.close(), sentinel?.close()]);
});

describe.skipIf(!server || !cli)('RedisReplayStore on a Redis Cluster (3 primaries + 3 replicas)', () => {
  const store = (options = {}) => new RedisReplayStore(cluster!.url, { keyPrefix: `test:${randomUUID()}:`, timeoutMs: 1000, ...options });
  describeReplayStoreContract('Cluster (redis+cluster:// URL)', () => store());
  describeReplayStoreContract('Cluster, waitForReplicas 1', () => store({ waitForReplicas: 1 }));
  describeReplayStoreContract('Cluster, waitForReplicas 1, an ioredis 5 client passed in', () => {
    const client = new Cluster5([{ host: '127.0.0.1', port: cluster!.nodes[0]!.port }]);
    return new RedisReplayStore(client, { keyPrefix: `test:${randomUUID()}:`, timeoutMs: 1000, waitForReplicas: 1, closeClient: true });
  });

  it('spreads keys over the slots of every primary', async () => {
    const prefix = `spread:${randomUUID()}:`;
    const one = store({ keyPrefix: prefix });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `kid-1 jti-${i}`);
      for (const key of keys) expect(await one.insertIfAbsent(key, 30_000)).toBe(true);
      const owners = new Map<number, number>();
      for (const key of keys) {
        const primary = await cluster!.primary(redisKeyOf(prefix, key));
        owners.set(primary.port, (owners.get(primary.port) ?? 0) + 1);
        // the key is where the cluster says its slot lives, on that primary itself
        expect(await ask<number>(primary.port, 'EXISTS', redisKeyOf(prefix, key))).toBe(1);
      }
      expect(owners.size).toBe(3);
      const slots = await Promise.all(keys.map((key) => ask<number>(cluster!.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', redisKeyOf(prefix, key))));
      expect(new Set(slots).size).toBeGreaterThan(50);
      // the tests' own slot function (used to aim at one primary) agrees with Redis
      expect(keys.map((key) => clusterSlot(redisKeyOf(prefix, key)))).toEqual(slots);
    } finally {
      await one.close();
    }
  });

  it('one write per primary per turn: the inserts of one event-loop turn leave in one write to each primary', async () => {
    const client = new Cluster([{ host: '127.0.0.1', port: cluster!.nodes[0]!.port }]);
    const one = new RedisReplayStore(client, { keyPrefix: `turn:${randomUUID()}:`, timeoutMs: 1000, closeClient: true });
    try {
      // connected to every primary first: a key for each of them, one turn at a time
      for (let i = 0; i < 30; i++) expect(await one.insertIfAbsent(`kid warm-${i}`, 30_000)).toBe(true);
      const primaries = client.nodes('master');
      expect(primaries).toHaveLength(3);
      const writes = new Map<number, number[]>();
      for (const node of primaries) writes.set(node.options.port!, countSocketWrites(node.stream));
      const jtis = Array.from({ length: 45 }, (_, i) => `jti-${i % 40}`);
      const answers = await Promise.all(jtis.map((jti) => one.insertIfAbsent(`kid ${jti}`, 30_000)));
      expect(answers).toEqual(jtis.map((jti, i) => jtis.indexOf(jti) === i));
      // each primary got its keys in one write, and all of them got some
      const perPrimary = [...writes.values()];
      expect(perPrimary.every((w) => w.length === 1)).toBe(true);
      expect(perPrimary.reduce((sum, w) => sum + w[0]!, 0)).toBe(jtis.length);
    } finally {
      await one.close();
    }
  });

  it('a stamp whose hash holds "{}" is answered like any other, with and without WAIT', async () => {
    // Under the default prefix, SHA-256("kid-1 jti-141908") starts c57b7d…7d: a "{}" and a later
    // "}". Redis hashes such a key whole (an empty hash tag is none: slot 3889), ioredis' slot
    // function (cluster-key-slot) hashes from the "{" to the later "}" (slot 13737, another
    // primary): a pipeline went to the wrong node and came back MOVED. Found by the bench;
    // jti-213722 is the other case below 1,000,000 (slots 4452 and 6359).
    for (const [key, waitForReplicas] of [
      ['kid-1 jti-141908', 1],
      ['kid-1 jti-213722', 0],
    ] as const) {
      const one = store({ keyPrefix: 'ipstamp:r:', waitForReplicas });
      try {
        expect(await outcome(one.insertIfAbsent(key, 30_000))).toBe(true);
        expect(await outcome(one.insertIfAbsent(key, 30_000))).toBe(false);
      } finally {
        await one.close();
      }
    }
  });

  it("WAIT reaches the key's own primary: only the keys of the primary whose replica is frozen fail closed", async () => {
    const prefix = `wait:${randomUUID()}:`;
    const durable = store({ keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 300 });
    const keys = Array.from({ length: 24 }, (_, i) => `kid-1 jti-${i}`);
    const owners = await Promise.all(keys.map((key) => cluster!.primary(redisKeyOf(prefix, key))));
    const frozenPrimary = owners[0]!;
    const replica = await cluster!.replicaOf(frozenPrimary);
    const answers: (boolean | string)[] = [];
    replica.pause();
    try {
      for (const key of keys) answers.push(await outcome(durable.insertIfAbsent(key, 30_000)));
    } finally {
      replica.resume();
      await durable.close();
    }
    // a WAIT sent to any other node would have been answered by that node's healthy replica
    expect(answers).toEqual(owners.map((owner) => (owner === frozenPrimary ? 'error store-unavailable' : true)));
    expect(answers.filter((a) => a === true).length).toBeGreaterThan(0);
    await cluster!.healthy();
  }, 30_000);
});

describe.skipIf(!server || !cli)('RedisReplayStore through Sentinel (1 primary + 1 replica + 3 sentinels)', () => {
  const store = (options = {}) => new RedisReplayStore(sentinel!.url, { keyPrefix: `test:${randomUUID()}:`, timeoutMs: 1000, ...options });
  describeReplayStoreContract('Sentinel (redis+sentinel:// URL)', () => store());
  describeReplayStoreContract('Sentinel, waitForReplicas 1', () => store({ waitForReplicas: 1 }));
  describeReplayStoreContract('Sentinel, waitForReplicas 1, an ioredis 5 client passed in', () => {
    const client = new Redis5({ sentinels: sentinel!.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name: SENTINEL_NAME });
    return new RedisReplayStore(client, { keyPrefix: `test:${randomUUID()}:`, timeoutMs: 1000, waitForReplicas: 1, closeClient: true });
  });

  it('writes to the primary the sentinels name; with the replica frozen, waitForReplicas fails closed', async () => {
    const prefix = `sentinel:${randomUUID()}:`;
    const durable = store({ keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 300 });
    try {
      expect(await durable.insertIfAbsent('kid-1 before', 30_000)).toBe(true);
      const primary = await sentinel!.primary();
      expect(await ask<number>(primary.port, 'EXISTS', redisKeyOf(prefix, 'kid-1 before'))).toBe(1);
      const replica = await sentinel!.replicaOf(primary);
      replica.pause();
      try {
        expect(await outcome(durable.insertIfAbsent('kid-1 frozen', 30_000))).toBe('error store-unavailable');
      } finally {
        replica.resume();
      }
      expect(await durable.insertIfAbsent('kid-1 before', 30_000)).toBe(false);
      await sentinel!.healthy();
      expect(await durable.insertIfAbsent('kid-1 after', 30_000)).toBe(true);
    } finally {
      await durable.close();
    }
  }, 30_000);
});
