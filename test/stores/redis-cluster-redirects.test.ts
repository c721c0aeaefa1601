import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster5 } from 'ioredis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import type { RedisServer } from '../support/redis.js';
import { ask, clusterSlot, isPrimary, replayKeyOf, startCluster, until, type RedisTopology } from '../support/redis-topology.js';

/**
 * `waitForReplicas` in a Cluster whose slots move: the `SET NX` + `WAIT` pipeline is redirected
 * (`ASK` while a slot migrates, `MOVED` once it has moved), and ioredis 5 follows neither in a
 * pipeline whose `WAIT` succeeded. Every insert of such a slot used to fail `store-unavailable`:
 * for the whole migration, or until the client's next slot-table refresh. ioredis 6 follows
 * them in the pipeline, after a WAIT already answered by the old node: such inserts never
 * settled and failed at their deadline, until the store checked which connection each ran on.
 */

const server = requireBinary('redis-server');
const cli = requireBinary('redis-cli');

const outcome = (insert: Promise<boolean>): Promise<boolean | string> =>
  insert.then(
    (answer) => answer,
    (error: { reason?: string; cause?: Error }) => `error ${error.reason} (${error.cause?.message})`,
  );

let cluster: RedisTopology | undefined;

beforeAll(async () => {
  if (!server || !cli) return;
  cluster = await startCluster(server, cli);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

/** `count` keys (as the store is given them) whose Redis keys under `prefix` hash to `slot`. */
function keysInSlot(prefix: string, slot: number, tag: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `kid-1 ${tag}-${i}`;
    if (clusterSlot(replayKeyOf(prefix, key)) === slot) keys.push(key);
  }
  return keys;
}

/** The slot of `prefix` + `probe`, its primary, and another primary to move it to. */
async function slotToMove(prefix: string): Promise<{ slot: number; source: RedisServer; target: RedisServer }> {
  const probe = replayKeyOf(prefix, 'kid-1 probe');
  const source = await cluster!.primary(probe);
  const primaries: RedisServer[] = [];
  for (const node of cluster!.nodes) if (node.running && (await isPrimary(node))) primaries.push(node);
  const target = primaries.find((node) => node !== source);
  if (!target) throw new Error('no other primary');
  return { slot: clusterSlot(probe), source, target };
}

const idOf = (node: RedisServer): Promise<string> => ask<string>(node.port, 'CLUSTER', 'MYID');

/** A reshard begins: the target imports the slot, its owner migrates it (keys it lacks get `ASK`). */
async function beginMigration(slot: number, source: RedisServer, target: RedisServer): Promise<void> {
  await ask(target.port, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', await idOf(source));
  await ask(source.port, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', await idOf(target));
}

/** The reshard ends: the source's keys of the slot move over, then every primary is told the new owner. */
async function finishMigration(slot: number, source: RedisServer, target: RedisServer): Promise<void> {
  const admin = new Redis(source.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
  try {
    const keys = (await admin.callBuffer('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as Buffer[];
    if (keys.length > 0) await admin.callBuffer('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
  } finally {
    admin.disconnect();
  }
  const owner = await idOf(target);
  await ask(target.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', owner);
  await ask(source.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', owner);
  for (const node of cluster!.nodes) {
    if (node !== source && node !== target && (await isPrimary(node))) await ask(node.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', owner);
  }
  await until(`every node to name ${target.port} as the owner of slot ${slot}`, async () => {
    for (const node of cluster!.nodes) {
      const slots = await ask<[number, number, [string, number]][]>(node.port, 'CLUSTER', 'SLOTS');
      if (slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1] !== target.port) return false;
    }
    return true;
  });
}

/** How many keys of the slot the node holds (asked of a primary or a replica alike). */
const keysHeld = (node: RedisServer, slot: number): Promise<number> => ask<number>(node.port, 'CLUSTER', 'COUNTKEYSINSLOT', slot);

type StoreOptions = ConstructorParameters<typeof RedisReplayStore>[1];

/**
 * The store's own client (ioredis 6, from the URL) and an app's ioredis 5 client passed in:
 * ioredis 5 leaves a redirected SET in a pipeline failed, ioredis 6 sends the pipeline again
 * to the node named, and either way the WAIT that counts must be that node's.
 */
const CLIENTS = [
  {
    name: 'its own ioredis 6 client',
    store: (options: StoreOptions) => new RedisReplayStore(cluster!.url, options),
    stale: (port: number) => new Cluster([{ host: '127.0.0.1', port }], { slotsRefreshInterval: 0 }),
  },
  {
    name: 'an ioredis 5 client passed in',
    store: (options: StoreOptions) =>
      new RedisReplayStore(new Cluster5([{ host: '127.0.0.1', port: cluster!.nodes[0]!.port }]), { ...options, closeClient: true }),
    stale: (port: number) => new Cluster5([{ host: '127.0.0.1', port }], { slotsRefreshInterval: 0 }),
  },
];

describe.skipIf(!server || !cli).each(CLIENTS)('RedisReplayStore, waitForReplicas 1, in a Cluster whose slot moves, $name', ({ store, stale }) => {
  it('a slot being migrated (ASK): inserted on the importing node and WAITed there; replays stay replays', async () => {
    const prefix = `ask:${randomUUID()}:`;
    const { slot, source, target } = await slotToMove(prefix);
    const [before, ...fresh] = keysInSlot(prefix, slot, 'ask', 5);
    const durable = store({ keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 1000 });
    const quick = store({ keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 300 });
    const replica = await cluster!.replicaOf(target);
    try {
      expect(await outcome(durable.insertIfAbsent(before!, 60_000))).toBe(true);
      expect(await outcome(quick.insertIfAbsent(`kid-1 warm ${randomUUID()}`, 60_000))).toBe(true);
      await beginMigration(slot, source, target);
      for (const [i, key] of fresh.slice(0, 3).entries()) {
        expect(await outcome(durable.insertIfAbsent(key, 60_000))).toBe(true);
        expect(await outcome(durable.insertIfAbsent(key, 60_000))).toBe(false);
        // on the importing node, and on its replica: the WAIT that counted was that node's
        expect(await keysHeld(target, slot)).toBe(i + 1);
        expect(await keysHeld(replica, slot)).toBe(i + 1);
      }
      // a key the source still holds is answered there: a replay, without a redirect
      expect(await outcome(durable.insertIfAbsent(before!, 60_000))).toBe(false);
      // With the importing node's replica frozen, a redirected insert fails closed: a WAIT sent
      // to the source (whose replica is healthy) would have acknowledged a write it never saw.
      replica.pause();
      try {
        expect(await outcome(quick.insertIfAbsent(fresh[3]!, 60_000))).toMatch(/^error store-unavailable/);
      } finally {
        replica.resume();
      }
      // its SET ran all the same: the key stays used (failing closed never reopens it)
      expect(await outcome(durable.insertIfAbsent(fresh[3]!, 60_000))).toBe(false);
    } finally {
      replica.resume();
      await Promise.all([durable.close(), quick.close()]);
      await finishMigration(slot, source, target);
    }
    await cluster!.healthy();
  }, 40_000);

  it('a slot that has moved (MOVED, slot table not yet refreshed): inserted on the new owner; replays stay replays', async () => {
    const prefix = `moved:${randomUUID()}:`;
    const { slot, source, target } = await slotToMove(prefix);
    const [before, beforeQuick, ...fresh] = keysInSlot(prefix, slot, 'moved', 6);
    // clients that never refresh their slot table by themselves (ioredis' default is every 5 s)
    const durable = new RedisReplayStore(stale(source.port), { keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 1000, closeClient: true });
    const quick = new RedisReplayStore(stale(source.port), { keyPrefix: prefix, waitForReplicas: 1, timeoutMs: 300, closeClient: true });
    const replica = await cluster!.replicaOf(target);
    try {
      expect(await outcome(durable.insertIfAbsent(before!, 60_000))).toBe(true);
      expect(await outcome(quick.insertIfAbsent(beforeQuick!, 60_000))).toBe(true);
      await beginMigration(slot, source, target);
      await finishMigration(slot, source, target);
      const last = fresh.pop()!;
      for (const [i, key] of fresh.entries()) {
        expect(await outcome(durable.insertIfAbsent(key, 60_000))).toBe(true);
        expect(await outcome(durable.insertIfAbsent(key, 60_000))).toBe(false);
        expect(await keysHeld(target, slot)).toBe(i + 3);
        expect(await keysHeld(replica, slot)).toBe(i + 3);
      }
      // the keys written before the move moved with their slot: still replays
      expect(await outcome(durable.insertIfAbsent(before!, 60_000))).toBe(false);
      expect(await outcome(durable.insertIfAbsent(beforeQuick!, 60_000))).toBe(false);
      expect(await keysHeld(source, slot)).toBe(0);
      // the new owner's replica frozen: a redirected insert fails closed, its key stays used
      replica.pause();
      try {
        expect(await outcome(quick.insertIfAbsent(last, 60_000))).toMatch(/^error store-unavailable/);
      } finally {
        replica.resume();
      }
      expect(await outcome(durable.insertIfAbsent(last, 60_000))).toBe(false);
    } finally {
      replica.resume();
      await Promise.all([durable.close(), quick.close()]);
    }
    await cluster!.healthy();
  }, 40_000);
});
