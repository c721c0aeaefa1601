/**
 * One benchmark server, forked by bench/http.js and pinned to its own core. It answers
 * `GET /orders` in one of several variants and reports its own CPU time over the window the
 * parent asks about (IPC messages 'cpu-start' / 'cpu-stop').
 */
import Fastify from 'fastify';
import { serveBenchParent } from './processes.js';

const [variant, keysJson, redisUrl] = process.argv.slice(2);
const keys = JSON.parse(keysJson);
/** ~20–30 ms of verifies on the quiet host: long enough for a stable figure, short beside a 2 s window. */
const RAW_ES256_VERIFIES = 400;

async function build() {
  if (variant === 'bare-headers') {
    // bare Fastify whose route reads one header, as almost every route or request log does:
    // Node builds `request.headers` from the raw header lines on its first read, and the bare
    // route never reads it, so bare never pays for it (bench/README.md, "Ninth pass")
    const app = Fastify({ logger: false });
    app.get('/orders', async (request) => ({ ok: request.headers.host !== undefined }));
    return app;
  }
  if (variant === 'bare-idle-gc' || variant === 'bare-idle-gc-kept') {
    // bare Fastify after what a quiet spell gives any server: full collections while no tick
    // object is alive. They free the hidden classes process.nextTick's literal goes through, and
    // every later nextTick then runs in V8's runtime (server/runtime/tick-shapes.ts). The -kept
    // twin first keeps a tick object, as ipstamp's adapters do when they are set up.
    if (variant.endsWith('-kept')) (await import('../dist/server/runtime/tick-shapes.js')).keepTickObjectShapes();
    idleCollections();
    const app = Fastify({ logger: false });
    app.get('/orders', async () => ({ ok: true }));
    return app;
  }
  if (variant === 'bare' || variant === 'bare-stamped' || variant === 'bare-zod-schema') {
    if (variant === 'bare-zod-schema') {
      const { z } = await import('zod');
      globalThis.unusedSchema = z.looseObject({ kid: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/), iat: z.number().int().min(0) });
    }
    const app = Fastify({ logger: false });
    app.get('/orders', async () => ({ ok: true }));
    return app;
  }
  if (variant === 'signature-floor-hs256' || variant === 'signature-floor-es256') {
    // the primitive alone, where ipstamp runs it: one callback preValidation hook that checks
    // the stamp's signature with node:crypto as ipstamp's verifier does, and nothing else — no
    // claims, binding, store or network. What the signature costs inside a busy server (more
    // than in a tight loop) is a floor no verifier on this stack can go below.
    const { createHmac, createPublicKey, createSecretKey, timingSafeEqual, verify } = await import('node:crypto');
    const hs = variant.endsWith('hs256');
    const key = hs ? createSecretKey(Buffer.from(keys.hs256.k, 'base64url')) : createPublicKey({ key: keys.es256, format: 'jwk' });
    const app = Fastify({ logger: false });
    app.addHook('preValidation', (request, reply, done) => {
      const token = String(request.headers['client-ip-attestation']);
      const dot = token.lastIndexOf('.');
      const signature = Buffer.from(token.slice(dot + 1), 'base64url');
      const signingInput = token.slice(0, dot);
      const ok = hs
        ? timingSafeEqual(Buffer.from(createHmac('sha256', key).update(signingInput, 'latin1').digest('binary'), 'latin1'), signature)
        : verify('sha256', Buffer.from(signingInput, 'latin1'), { key, dsaEncoding: 'ieee-p1363' }, signature);
      // a floor that accepted everything would measure nothing: a bad signature fails the run
      done(ok ? undefined : new Error('bad signature'));
    });
    app.get('/orders', async () => ({ ok: true }));
    return app;
  }
  if (variant === 'ipstamp-off') {
    // the plugin registered, its verification switched off on the route: what its two hooks
    // cost a request when they return at once
    const { ipstamp } = await import('../dist/server/fastify/plugin.js');
    const app = Fastify({ logger: false });
    await app.register(ipstamp, { keys: { keys: [keys.hs256] }, maxAge: 600, echo: false });
    app.get('/orders', { config: { ipstamp: false } }, async () => ({ ip: '127.0.0.1' }));
    return app;
  }
  if (variant === 'core-hook-hs256') {
    // the verifier core alone in one callback preValidation hook, none of the plugin's glue
    // (no preParsing, body tee, route policy, metrics, PROXY or accept-time facts): what any
    // Fastify integration of this core starts from
    const { createVerifier } = await import('../dist/server/verify/create-verifier.js');
    const { immediateVerifierOf } = await import('../dist/server/verify/verifier.js');
    const verifyNow = immediateVerifierOf(createVerifier({ keys: { keys: [keys.hs256] }, maxAge: 600 }));
    const app = Fastify({ logger: false });
    app.decorateRequest('ipStamp', null);
    app.addHook('preValidation', (request, reply, done) => {
      const result = verifyNow({
        method: request.method,
        url: request.originalUrl,
        headers: request.headers,
        body: undefined,
        protocol: 'http',
        hints: { l3: request.socket.remoteAddress, tls: false },
        required: true,
      });
      if (!result.ok) return done(new Error(result.reason));
      request.ipStamp = result.verdict;
      done();
    });
    app.get('/orders', async (request) => ({ ip: request.ipStamp.ip }));
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
  if (variant === 'ipstamp-idle-gc') idleCollections();
  return app;
}

/**
 * Full collections from a timer, between event-loop turns, while the server warms up and takes
 * its first windows: when one runs, process.nextTick's queue is empty and no tick object is
 * alive. (Collections made before the server listened, while nextTick was not yet hot in its
 * request path, did not do it: 0.945 against bare-stamped's 0.953 in a quick run.)
 */
function idleCollections() {
  if (typeof globalThis.gc !== 'function') throw new Error(`${variant} needs node --expose-gc (npm run bench passes it)`);
  let left = 6;
  const timer = setInterval(() => {
    globalThis.gc();
    if (--left === 0) clearInterval(timer);
  }, 1500);
  timer.unref();
}

const app = await build();
await app.listen({ host: '127.0.0.1', port: 0 });
// ES256's limit priced on this core, between this server's windows: the raw pipeline's CPU per
// verify, from a module that loads node:crypto and nothing of ipstamp's (made on first ask)
let rawEs256;
serveBenchParent(app.server.address().port, () => app.close(), {
  'raw-es256-verify': async () => {
    rawEs256 ??= (await import('./raw-pipeline.js')).rawPipelineTimer('ES256', keys.private.es256, keys.es256);
    return { cpuMicrosPerVerify: rawEs256(RAW_ES256_VERIFIES) };
  },
});
