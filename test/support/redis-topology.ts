import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freeClusterPorts } from './ports.js';
import { startRedis, type RedisServer } from './redis.js';

/**
 * Real Redis topologies on loopback ports, from Debian's redis-server and redis-cli: a Cluster
 * of 3 primaries + 3 replicas, and 1 primary + 1 replica watched by 3 sentinels. Timeouts are
 * short (a node is failed after 1 s), replication is diskless with no delay, and every "healthy"
 * wait includes each replica's link being up: a primary killed before its replica's first sync
 * leaves a replica that refuses to take over.
 */

const run = promisify(execFile);

// every node registers an exit handler (kill it if the test process dies): 13 nodes at once
process.setMaxListeners(Math.max(process.getMaxListeners(), 50));

/** Polls `check` every 50 ms until it is true; `label` names what never happened. */
export async function until(label: string, check: () => Promise<boolean> | boolean, withinMs = 20_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // a node restarting refuses connections: that is "not yet", not a failure
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One short-lived admin connection: a restarted or killed node must not keep a client reconnecting. */
export async function ask<T>(port: number, command: string, ...args: (string | number | Buffer)[]): Promise<T> {
  const client = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.call(command, ...args)) as T;
  } finally {
    client.disconnect();
  }
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1];
}

export interface RedisTopology {
  /** What `--replay-store` takes. */
  readonly url: string;
  readonly nodes: readonly RedisServer[];
  /** The node that is primary now (for a Cluster: of the slot of `key`, a Buffer or string). */
  primary(key?: Buffer | string): Promise<RedisServer>;
  /** The replica of that primary. */
  replicaOf(primary: RedisServer): Promise<RedisServer>;
  /** Resolves once every node that runs is up, agreed on, and every primary's replica is in sync. */
  healthy(): Promise<void>;
  /** Starts a killed node again (empty) and waits until it is the replica of the primary that replaced it. */
  rejoin(node: RedisServer): Promise<void>;
  output(): string;
  close(): Promise<void>;
}

const REPLICATION = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--repl-diskless-load', 'disabled'];

/** 3 primaries + 3 replicas, `cluster-node-timeout 1000`, created with `redis-cli --cluster create`. */
/**
 * Starts every server and keeps those that started in `into`, so the topology's close stops
 * them when another failed (Promise.all dropped them: they outlived the run); throws the first
 * failure.
 */
async function startAll(into: RedisServer[], starts: Promise<RedisServer>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  for (const result of results) if (result.status === 'fulfilled') into.push(result.value);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

export async function startCluster(binary: string, cli: string): Promise<RedisTopology> {
  const nodes: RedisServer[] = [];
  const topology: RedisTopology = {
    get url() {
      return `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
    },
    nodes,
    primary: async (key) => {
      const running = nodes.filter((n) => n.running);
      const slot = key === undefined ? 0 : await ask<number>(running[0]!.port, 'CLUSTER', 'KEYSLOT', key);
      for (const node of running) {
        const slots = await ask<[number, number, [string, number]][]>(node.port, 'CLUSTER', 'SLOTS');
        const owner = slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
        const found = nodes.find((n) => n.port === owner && n.running);
        if (found) return found;
      }
      throw new Error(`no running primary for slot ${slot}`);
    },
    replicaOf: async (primary) => {
      const info = await ask<string>(primary.port, 'INFO', 'replication');
      const port = Number(/^slave0:.*port=(\d+)/m.exec(info)?.[1]);
      const replica = nodes.find((n) => n.port === port);
      if (!replica) throw new Error(`the primary on ${primary.port} has no replica`);
      return replica;
    },
    healthy: () =>
      until('the cluster to be ok with every replica in sync', async () => {
        const running = nodes.filter((n) => n.running);
        let primaries = 0;
        for (const node of running) {
          if (field(await ask(node.port, 'CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return false;
          // every node sees every running node healthy: no stale "fail" flags left to time out
          const view = await ask<string>(node.port, 'CLUSTER', 'NODES');
          if (/\b(fail\??|handshake|noaddr)\b/.test(view)) return false;
          const info = await ask<string>(node.port, 'INFO', 'replication');
          if (field(info, 'role') === 'master') {
            primaries++;
            if (!/^slave0:.*state=online/m.test(info)) return false;
          } else if (field(info, 'master_link_status') !== 'up' || field(info, 'master_sync_in_progress') !== '0') return false;
        }
        return primaries === 3 && running.length === 6;
      }),
    rejoin: async (node) => {
      // its nodes.conf survived: it comes back as a replica of the node that took its slots
      await node.restart();
      await topology.healthy();
    },
    output: () => nodes.map((n) => `--- node ${n.port}\n${n.output()}`).join('\n'),
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
  try {
    const ports = await freeClusterPorts(6);
    const args = [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      '1000',
      // a replica paused for a test may still take over: its data is what the test is about
      '--cluster-replica-validity-factor',
      '0',
      ...REPLICATION,
    ];
    await startAll(
      nodes,
      ports.map((port) => startRedis(binary, { port, args })),
    );
    await run(cli, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 20_000 });
    await topology.healthy();
    return topology;
  } catch (error) {
    const output = topology.output();
    await topology.close();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
}

/** The name the sentinels monitor. */
export const SENTINEL_NAME = 'ipstamp';

/** 1 primary + 1 replica + 3 sentinels (quorum 2, `down-after-milliseconds 1000`). */
export async function startSentinels(binary: string): Promise<RedisTopology & { readonly sentinels: readonly RedisServer[] }> {
  const data: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const masterPort = async (): Promise<number> => {
    for (const sentinel of sentinels.filter((s) => s.running)) {
      const [, port] = await ask<[string, string]>(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME);
      return Number(port);
    }
    throw new Error('no sentinel runs');
  };
  const topology = {
    get url() {
      return `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${SENTINEL_NAME}`;
    },
    nodes: data,
    sentinels,
    primary: async () => {
      const port = await masterPort();
      return data.find((n) => n.port === port)!;
    },
    replicaOf: async (primary: RedisServer) => data.find((n) => n !== primary)!,
    healthy: () =>
      until('the sentinels to agree on a primary whose replica is in sync', async () => {
        const ports = await Promise.all(
          sentinels.map((s) => ask<[string, string]>(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME).then(([, port]) => Number(port))),
        );
        if (new Set(ports).size !== 1) return false;
        const primary = data.find((n) => n.port === ports[0]);
        const replica = data.find((n) => n !== primary);
        if (!primary?.running || !replica?.running) return false;
        if (field(await ask(primary.port, 'INFO', 'replication'), 'role') !== 'master') return false;
        const info = await ask<string>(replica.port, 'INFO', 'replication');
        if (field(info, 'role') !== 'slave' || Number(field(info, 'master_port')) !== primary.port) return false;
        if (field(info, 'master_link_status') !== 'up' || field(info, 'master_sync_in_progress') !== '0') return false;
        for (const sentinel of sentinels) {
          // each sentinel knows the replica (as a replica, not down) and the two other sentinels
          const replicas = await ask<string[][]>(sentinel.port, 'SENTINEL', 'REPLICAS', SENTINEL_NAME);
          const seen = replicas.map((r) => Object.fromEntries(pairs(r)));
          if (!seen.some((r) => Number(r.port) === replica.port && r.flags === 'slave')) return false;
          if ((await ask<unknown[]>(sentinel.port, 'SENTINEL', 'SENTINELS', SENTINEL_NAME)).length !== 2) return false;
        }
        return true;
      }),
    rejoin: async (node: RedisServer) => {
      const primary = await topology.primary();
      await node.restart();
      // what the sentinels would tell it on their next 10 s INFO round, said at once
      await ask(node.port, 'REPLICAOF', '127.0.0.1', primary.port);
      await topology.healthy();
    },
    output: () => [...data, ...sentinels].map((n) => `--- ${n.port}\n${n.output()}`).join('\n'),
    close: async () => {
      await Promise.all([...sentinels, ...data].map((n) => n.close()));
    },
  };
  try {
    const primary = await startRedis(binary, { args: REPLICATION });
    data.push(primary);
    data.push(await startRedis(binary, { args: [...REPLICATION, '--replicaof', '127.0.0.1', String(primary.port)] }));
    const config = [
      `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primary.port} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
      // a failover that did not finish is tried again after twice this, not after 6 minutes
      `sentinel failover-timeout ${SENTINEL_NAME} 2000`,
      `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
    ];
    await startAll(
      sentinels,
      [0, 1, 2].map(() => startRedis(binary, { sentinelConfig: config })),
    );
    await topology.healthy();
    return topology;
  } catch (error) {
    const output = topology.output();
    await topology.close();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** The Redis Cluster slot of a key: CRC16-XMODEM of the key, or of its `{hash tag}`, mod 16384. */
export function clusterSlot(key: Buffer): number {
  let hashed = key;
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) hashed = key.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of hashed) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}

/** The slots a primary serves now, as asked of that primary. */
export async function slotsOf(primary: RedisServer): Promise<(slot: number) => boolean> {
  const slots = await ask<[number, number, [string, number]][]>(primary.port, 'CLUSTER', 'SLOTS');
  const ranges = slots.filter(([, , [, port]]) => port === primary.port).map(([from, to]) => [from, to] as const);
  return (slot) => ranges.some(([from, to]) => slot >= from && slot <= to);
}

/** Whether the node answers `INFO replication` with `role:master`. */
export async function isPrimary(node: RedisServer): Promise<boolean> {
  return field(await ask(node.port, 'INFO', 'replication'), 'role') === 'master';
}

/** The Redis key RedisReplayStore writes for `key` (stores/redis.ts): prefix + 16 bytes of SHA-256, "{" folded to "z". */
export function replayKeyOf(prefix: string, key: string): Buffer {
  const digest = createHash('sha256').update(key, 'utf8').digest().subarray(0, 16);
  for (let i = 0; i < digest.length; i++) if (digest[i] === 0x7b) digest[i] = 0x7a;
  return Buffer.concat([Buffer.from(prefix), digest]);
}
