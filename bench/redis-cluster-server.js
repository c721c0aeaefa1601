/**
 * One server for bench/redis-cluster.js: Fastify + ipstamp HS256 with a Redis replay store of
 * the topology and settings the parent names (or none, for `bare`). Reports its own CPU time
 * over a window (IPC 'cpu-start' / 'cpu-stop'), as bench/http-server.js does.
 */
import Fastify from 'fastify';
import { serveBenchParent } from './processes.js';

const [variant, keyJson, storeJson] = process.argv.slice(2);
const key = JSON.parse(keyJson);
const spec = JSON.parse(storeJson || '{}');

const app = Fastify({ logger: false });
let store;
if (variant === 'bare') {
  app.get('/orders', async () => ({ ok: true }));
} else {
  const { ipstamp } = await import('../dist/server/fastify/plugin.js');
  const { RedisReplayStore, REDIS_CLIENT_OPTIONS } = await import('../dist/server/redis.js');
  let client = spec.url;
  if (spec.autoPipelining) {
    const { Redis } = await import('ioredis');
    client = new Redis(spec.url, { ...REDIS_CLIENT_OPTIONS, enableAutoPipelining: true });
    client.on('error', () => {});
  }
  store = new RedisReplayStore(client, { waitForReplicas: spec.waitForReplicas ?? 0, closeClient: true });
  await app.register(ipstamp, { keys: { keys: [key] }, maxAge: 600, replayStore: store, echo: false });
  app.get('/orders', async (request) => ({ ip: request.ipStamp.ip }));
}
await app.listen({ host: '127.0.0.1', port: 0 });
serveBenchParent(app.server.address().port, async () => (await app.close(), await store?.close()));
