import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayStore } from '../../server/stores/redis.js';
import { requireBinary } from '../support/binaries.js';
import { startRedis, type RedisServer } from '../support/redis.js';

/**
 * What a RedisReplayStore leaves behind once closed: on a client the caller owns and shares
 * (closeClient: false), none of its listeners; with a client of its own, no handle that keeps
 * the process alive — with an insert in flight at close, and with a Redis frozen mid-close.
 * redis-store-pinned.test.ts pins who owns the client; redis-deadlines-pinned.test.ts that
 * close() returns on a frozen Redis; these pin what is left afterwards.
 */

const binary = requireBinary('redis-server');

/** Every event the store listens to on a client (server/stores/redis.ts constructor). */
const EVENTS = ['ready', 'close', 'error', '+node'] as const;
const listeners = (client: Redis | Cluster): Record<string, number> => Object.fromEntries(EVENTS.map((name) => [name, client.listenerCount(name)]));

/** Active resources by kind: what keeps the event loop alive (an unref'd timer is not counted). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The resources beyond `baseline`, by kind: what the test left that keeps the process alive. */
function beyond(baseline: Record<string, number>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [kind, count] of Object.entries(resources())) if (count > (baseline[kind] ?? 0)) extra[kind] = count - (baseline[kind] ?? 0);
  return extra;
}

/** A few turns of the event loop: closes and destroys that were asked for have run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Collects process warnings while `run` runs: MaxListenersExceededWarning is one. */
async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => void seen.push(warning.name);
  process.on('warning', onWarning);
  try {
    await run();
    // Node emits process warnings on the next tick
    await settle();
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('RedisReplayStore on a client shared by many stores (no server needed)', () => {
  // ioredis 6 and 5, Redis and Cluster: the listeners are the same on each (lazyConnect: no connection is made)
  const clients: [string, () => Redis | Cluster][] = [
    ['Redis', () => new Redis({ lazyConnect: true })],
    ['Cluster', () => new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })],
    ['ioredis 5 Redis', () => new Redis5({ lazyConnect: true }) as unknown as Redis],
    ['ioredis 5 Cluster', () => new Cluster5([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true }) as unknown as Cluster],
  ];
  for (const [name, make] of clients) {
    it(`${name}: 20 stores made and closed in turn, with onClientError, leave the listeners it had and no MaxListenersExceededWarning`, async () => {
      const client = make();
      try {
        const before = listeners(client);
        const warnings = await warningsDuring(async () => {
          for (let i = 0; i < 20; i++) {
            const store = new RedisReplayStore(client, { onClientError: () => undefined });
            await store.close();
          }
        });
        expect(listeners(client)).toEqual(before);
        expect(warnings).toEqual([]);
      } finally {
        client.disconnect();
      }
    });
  }
});

describe.skipIf(!binary)('RedisReplayStore lifecycle against a real Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis(binary!);
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('a store closed with an insert in flight, on a client of its own, leaves no handle behind', async () => {
    await settle();
    const baseline = resources();
    const store = new RedisReplayStore(redis.url, { timeoutMs: 10_000, keyPrefix: `life:${randomUUID()}:` });
    expect(await store.insertIfAbsent(`kid warm ${randomUUID()}`, 30_000)).toBe(true);
    const inFlight = store.insertIfAbsent(`kid late ${randomUUID()}`, 30_000);
    await store.close();
    // written before the close: answered, as races.test.ts pins for the verifier
    expect(await inFlight).toBe(true);
    await settle();
    expect(beyond(baseline)).toEqual({});
  });

  it('one shared client: a closed store is told of no more errors, an open one still is', async () => {
    const client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    const calls = { closed: 0, open: 0 };
    try {
      const before = listeners(client);
      for (let i = 0; i < 12; i++) {
        const store = new RedisReplayStore(client, { keyPrefix: `shared:${randomUUID()}:`, onClientError: () => calls.closed++ });
        expect(await store.insertIfAbsent(`kid ${randomUUID()}`, 30_000)).toBe(true);
        await store.close();
      }
      expect(listeners(client)).toEqual(before);
      const open = new RedisReplayStore(client, { onClientError: () => calls.open++ });
      await redis.stop();
      // every reconnection attempt now fails at once (ECONNREFUSED on loopback)
      while (calls.open < 2) await new Promise((r) => setTimeout(r, 20));
      expect(calls.closed).toBe(0);
      await open.close();
    } finally {
      client.disconnect();
      if (!redis.running) await redis.restart();
    }
  });

  it('a store whose Redis freezes before close() lets the process exit once closed', async () => {
    // a child process: "exits" is what a CLI user's script needs, and only a process can show it
    const store = resolve(import.meta.dirname, '../../dist/server/redis.js');
    const script = `
      const { RedisReplayStore } = await import(${JSON.stringify(store)});
      const s = new RedisReplayStore(${JSON.stringify(redis.url)}, { timeoutMs: 300, keyPrefix: 'frozen:${randomUUID()}:' });
      if ((await s.insertIfAbsent('warm', 30000)) !== true) process.exit(3);
      process.send('frozen?');
      await new Promise((r) => process.once('message', r));
      const late = s.insertIfAbsent('late', 30000).then(() => 'answered', (e) => e.reason);
      await s.close();
      process.send(await late);
      process.disconnect();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const said: unknown[] = [];
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const giveUp = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('message', (message) => {
      said.push(message);
      if (message === 'frozen?') {
        redis.pause();
        child.send('go');
      }
    });
    try {
      // killed by the give-up timer: null, and the test fails
      expect(await exited).toBe(0);
      expect(said).toEqual(['frozen?', 'store-unavailable']);
    } finally {
      clearTimeout(giveUp);
      redis.resume();
    }
  });
});
