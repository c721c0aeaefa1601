/**
 * One benchmark server, forked by bench/http.js and pinned to its own core. It answers
 * `GET /orders` in one of several variants and reports its own CPU time over the window the
 * parent asks about (IPC messages 'cpu-start' / 'cpu-stop').
 */
import Fastify from 'fastify';
import { serveBenchParent } from './processes.js';

const [variant, keysJson, redisUrl] = process.argv.slice(2);
const keys = JSON.parse(keysJson);

async function build() {
  if (variant === 'bare' || variant === 'bare-stamped' || variant === 'bare-zod-schema') {
    if (variant === 'bare-zod-schema') {
      const { z } = await import('zod');
      globalThis.unusedSchema = z.looseObject({ kid: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/), iat: z.number().int().min(0) });
    }
    const app = Fastify({ logger: false });
    app.get('/orders', async () => ({ ok: true }));
    return app;
  }
  if (variant === 'trust-proxy') {
    const app = Fastify({ logger: false, trustProxy: true });
    app.get('/orders', async (request) => ({ ip: request.ip }));
    return app;
  }
  if (variant === 'naive-jose-hs256') {
    // what people write first: a hook that verifies the header with jose and trusts it
    const { jwtVerify, importJWK } = await import('jose');
    const key = await importJWK(keys.hs256, 'HS256');
    const app = Fastify({ logger: false });
    app.addHook('onRequest', async (request) => {
      const { payload } = await jwtVerify(String(request.headers['client-ip-attestation']), key, { algorithms: ['HS256'] });
      request.clientIp = payload.ip;
    });
    app.get('/orders', async (request) => ({ ip: request.clientIp }));
    return app;
  }
  const { ipstamp } = await import('../dist/server/fastify/plugin.js');
  const alg = variant.includes('es256') ? 'es256' : variant.includes('eddsa') ? 'eddsa' : 'hs256';
  let replayStore;
  if (variant.endsWith('redis')) {
    const { RedisReplayStore } = await import('../dist/server/redis.js');
    replayStore = new RedisReplayStore(redisUrl);
  } else if (variant.endsWith('redis-autopipeline')) {
    // the store's own client settings plus ioredis auto-pipelining (commands issued in one
    // event-loop turn go out in one write): measured here, not the store's default
    const { RedisReplayStore, REDIS_CLIENT_OPTIONS } = await import('../dist/server/stores/redis.js');
    const { Redis } = await import('ioredis');
    const client = new Redis(redisUrl, { ...REDIS_CLIENT_OPTIONS, enableAutoPipelining: true });
    replayStore = new RedisReplayStore(client, { closeClient: true });
  }
  const app = Fastify({ logger: false });
  await app.register(ipstamp, { keys: { keys: [keys[alg]] }, maxAge: 600, replayStore, echo: false });
  app.get('/orders', async (request) => ({ ip: request.ipStamp.ip }));
  return app;
}

const app = await build();
await app.listen({ host: '127.0.0.1', port: 0 });
serveBenchParent(app.server.address().port, () => app.close());
