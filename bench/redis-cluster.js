/**
 * `node bench/redis-cluster.js [--quick]`: what a replicated Redis costs the server, in its own
 * CPU per answered request, against bare Fastify in the same rounds (the method of
 * bench/http.js: server pinned to core 0, load to core 1, windows interleaved, median of the
 * per-round ratios). Starts its own topologies from redis-server and redis-cli on loopback:
 * one Redis with one replica, and a Cluster of 3 primaries + 3 replicas.
 *
 * Variants: `redis` (one Redis, the store as shipped), `redis-autopipelining` (the same with an
 * ioredis client made with `enableAutoPipelining`), `redis-wait1` (waitForReplicas 1),
 * `cluster`, `cluster-wait1`. Prints a table and the ratios as JSON (for bench/run.js).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSecret, exportJWK } from 'jose';
import { Redis } from 'ioredis';
import { blast, buildRequests } from './load.js';
import { bareOverVariantByRound, median } from './measure.js';
import { forkBenchServer, freePort, pin } from './processes.js';
import { stampSigner } from './sign-stamp.js';

const quick = process.argv.includes('--quick');

function hasBinaries() {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server && command -v redis-cli'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const started = [];

async function redisNode(args) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ipstamp-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
    stdio: 'ignore',
  });
  started.push({ child, dir });
  for (let i = 0; i < 200; i++) {
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return port;
    } catch {
      probe.disconnect();
      await sleep(25);
    }
  }
  throw new Error(`redis-server on ${port} did not start`);
}

async function until(check) {
  for (let i = 0; i < 400; i++) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error('topology never became healthy');
}

async function info(port, section) {
  const client = new Redis(port, '127.0.0.1', { retryStrategy: () => null });
  client.on('error', () => {});
  try {
    return section === 'cluster' ? await client.call('CLUSTER', 'INFO') : await client.info(section);
  } finally {
    client.disconnect();
  }
}

const REPLICATION = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];

async function startReplicatedRedis() {
  const primary = await redisNode(REPLICATION);
  await redisNode([...REPLICATION, '--replicaof', '127.0.0.1', String(primary)]);
  await until(async () => /slave0:.*state=online/.test(await info(primary, 'replication')));
  return `redis://127.0.0.1:${primary}`;
}

async function startCluster() {
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', ...REPLICATION];
  const ports = [];
  for (let i = 0; i < 6; i++) ports.push(await redisNode(args));
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { stdio: 'ignore' });
  await until(async () => {
    for (const port of ports) {
      if (!/cluster_state:ok/.test(await info(port, 'cluster'))) return false;
      const replication = await info(port, 'replication');
      if (/role:master/.test(replication) && !/slave0:.*state=online/.test(replication)) return false;
    }
    return true;
  });
  return `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
}

async function startServer(variant, key, spec) {
  return forkBenchServer(new URL('./redis-cluster-server.js', import.meta.url), [variant, JSON.stringify(key), JSON.stringify(spec ?? {})]);
}

function stampMaker(key, port) {
  const sign = stampSigner(key);
  const htu = `http://127.0.0.1:${port}/orders`;
  const salt = Math.random().toString(36).slice(2, 10);
  let serial = 0;
  return () => sign({ ip: '127.0.0.1', iat: Math.floor(Date.now() / 1000), jti: `${salt}-${(serial++).toString().padStart(16, '0')}`, htm: 'GET', htu });
}

async function window(t, seconds) {
  const requests = buildRequests({
    host: `127.0.0.1:${t.server.port}`,
    path: '/orders',
    count: Math.ceil(t.expectRps * seconds * 1.5) + 500,
    headersOf: t.nextStamp ? () => ({ 'client-ip-attestation': t.nextStamp() }) : undefined,
  });
  await t.server.ask('cpu-start');
  const run = await blast({ port: t.server.port, requests, duration: seconds });
  const { cpuMicros } = await t.server.ask('cpu-stop');
  t.expectRps = Math.max(1_000, run.rps);
  return { cpuPerRequestUs: cpuMicros / Math.max(1, run.ok), rps: run.rps, errors: run.errors };
}

/**
 * The store alone, in this process: CPU per insert (µs) with `concurrency` inserts in flight,
 * as a busy server has them. Less sensitive to a loaded machine than requests per second.
 */
async function storeCpuPerInsert(spec, { count, concurrency = 32 }) {
  const { RedisReplayStore, REDIS_CLIENT_OPTIONS } = await import('../dist/server/redis.js');
  let client = spec.url;
  if (spec.autoPipelining) {
    client = new Redis(spec.url, { ...REDIS_CLIENT_OPTIONS, enableAutoPipelining: true });
    client.on('error', () => {});
  }
  const store = new RedisReplayStore(client, { waitForReplicas: spec.waitForReplicas ?? 0, closeClient: true, timeoutMs: 5000 });
  const salt = Math.random().toString(36).slice(2);
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) await store.insertIfAbsent(`bench ${salt} ${next++}`, 60_000).catch(() => failed++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker)); // warm-up: connections, JIT
  next = 0;
  const salt2 = `${salt}-measured`;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await store.insertIfAbsent(`bench ${salt2} ${next++}`, 60_000).catch(() => failed++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  await store.close();
  return { cpuPerInsertUs: Number(((used.user + used.system) / count).toFixed(2)), insertsPerSecond: Math.round(count / seconds), failed };
}

export async function measureRedisTopologies({ quick = false } = {}) {
  if (!hasBinaries()) return undefined;
  pin(process.pid, 1);
  const key = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
  try {
    const [single, cluster] = [await startReplicatedRedis(), await startCluster()];
    const variants = {
      bare: undefined,
      redis: { url: single },
      'redis-autopipelining': { url: single, autoPipelining: true },
      'redis-wait1': { url: single, waitForReplicas: 1 },
      cluster: { url: cluster },
      'cluster-wait1': { url: cluster, waitForReplicas: 1 },
    };
    const names = Object.keys(variants);
    const store = {};
    for (const n of names.slice(1)) {
      const runs = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await storeCpuPerInsert(variants[n], { count: quick ? 5_000 : 20_000 }));
      store[n] = {
        cpuPerInsertUs: median(runs.map((r) => r.cpuPerInsertUs)),
        insertsPerSecond: median(runs.map((r) => r.insertsPerSecond)),
        failed: runs.reduce((sum, r) => sum + r.failed, 0),
      };
    }
    if (process.argv.includes('--store-only')) return { store };
    const samples = new Map(names.map((n) => [n, []]));
    const generations = quick ? 1 : 3;
    const rounds = quick ? 3 : 4;
    const seconds = quick ? 0.5 : 1.5;
    for (let g = 0; g < generations; g++) {
      const servers = await Promise.all(names.map((n) => startServer(n, key, variants[n])));
      const targets = names.map((n, i) => ({
        variant: n,
        server: servers[i],
        nextStamp: n === 'bare' ? undefined : stampMaker(key, servers[i].port),
        expectRps: 10_000,
      }));
      try {
        for (const t of targets) for (let w = 0; w < 3; w++) await window(t, 0.4);
        for (let r = 0; r < rounds; r++) {
          for (let k = 0; k < targets.length; k++) {
            const t = targets[(k + r + g) % targets.length];
            samples.get(t.variant).push(await window(t, seconds));
          }
        }
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    }
    const bare = samples.get('bare');
    const rows = {};
    for (const n of names) {
      const s = samples.get(n);
      rows[n] = {
        cpuPerRequestUs: Number(median(s.map((x) => x.cpuPerRequestUs)).toFixed(1)),
        rps: Math.round(median(s.map((x) => x.rps))),
        bareOverVariant: Number(median(bareOverVariantByRound(bare, s)).toFixed(3)),
        failedRequests: s.reduce((sum, x) => sum + x.errors, 0),
      };
    }
    return {
      store,
      rows,
      ratios: {
        http_hs256_redis_replicated_vs_bare: rows.redis.bareOverVariant,
        http_hs256_redis_autopipelining_vs_bare: rows['redis-autopipelining'].bareOverVariant,
        http_hs256_redis_wait1_vs_bare: rows['redis-wait1'].bareOverVariant,
        http_hs256_cluster_vs_bare: rows.cluster.bareOverVariant,
        http_hs256_cluster_wait1_vs_bare: rows['cluster-wait1'].bareOverVariant,
      },
    };
  } finally {
    for (const { child, dir } of started.splice(0)) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureRedisTopologies({ quick });
  if (!result) {
    console.error('redis-server or redis-cli not installed: nothing measured');
  } else {
    console.table(result.store);
    if (result.rows) console.table(result.rows);
    if (result.ratios) console.log(JSON.stringify(result.ratios, null, 2));
  }
}
