/** Starts a throwaway redis-server on a free loopback port (persistence off) when one is installed. */
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { freePort } from './processes.js';

export async function startRedis() {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      client.disconnect();
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  return undefined;
}

/** Round trip of the store's own command (SET NX PX) through ioredis, µs, median of sequential calls. */
export async function redisRoundTripUs(url, count = 5_000) {
  const { RedisReplayStore } = await import('../dist/server/redis.js');
  // a generous deadline: on a loaded machine one late answer must not end the bench, and the
  // figure is the median anyway
  const store = new RedisReplayStore(url, { timeoutMs: 10_000 });
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await store.insertIfAbsent(`bench ${i} ${Math.random()}`, 30_000);
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  await store.close();
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}
