import fc from 'fast-check';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { problemText } from '../../server/fastify/problem.js';
import { installRawBodyParsers, teeStampedBody } from '../../server/fastify/raw-body.js';
import { checkRouteConfig, routePolicy } from '../../server/fastify/route-config.js';
import { verifyInputOf } from '../../server/fastify/verify-hook.js';
import { createVerifier } from '../../server/verify/create-verifier.js';
import type { VerifierInstrumentation } from '../../server/verify/instrumentation.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../../shared/problem.js';
import { REASONS } from '../../shared/reasons.js';
import { STAMP_HEADER } from '../../shared/schema.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';
import { buildApp } from './app.js';

/**
 * The plugin's hooks are callback hooks, one preParsing hook where there were two, and its
 * refusal bodies are serialized once per reason (bench/README.md, "HTTP cost"). This holds
 * them to the plain path they replaced — async hooks awaiting the verifier, two preParsing
 * hooks, a body serialized per refusal — request by request: same status, headers, body,
 * same verdict in the handler, and the app's own hooks run in the same order.
 */

const NOW = 1_764_000_000_000;
const HOST = 'api.example.com';
let key: TestKeyPair;
let stamper: Stamper;
let digestStamper: Stamper;
let plugin: FastifyInstance;
let plain: FastifyInstance;
const trail: Record<'plugin' | 'plain', string[]> = { plugin: [], plain: [] };

/** The app's own hooks, registered after ipstamp, and the routes: what each app sees. */
function addAppParts(app: FastifyInstance, name: 'plugin' | 'plain'): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    trail[name].push(`preParsing ${request.method} ${request.url}`);
    return payload;
  });
  app.addHook('preValidation', async (request) => {
    trail[name].push(`preValidation ${request.method} ${request.url} ${request.ipStamp === null ? 'null' : 'verdict'}`);
  });
  const seen = async (request: FastifyRequest) => ({ ipStamp: request.ipStamp, body: request.body ?? null });
  app.all('/orders', seen);
  app.all('/optional', { config: { ipstamp: { required: false } } }, seen);
  app.all('/open', { config: { ipstamp: false } }, seen);
}

/** The plain path: the plugin's hooks as they were, async, awaiting the verifier and the reply. */
async function plainApp(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const verifier = createVerifier({ keys: { keys: [key.publicJwk] }, now: () => NOW });
  installRawBodyParsers(app);
  app.decorateRequest('ipStamp', null);
  app.addHook('onRoute', checkRouteConfig);
  const send = async (reply: FastifyReply, reason: (typeof REASONS)[number]) => {
    const problem = problemOf(reason);
    await reply
      .code(problem.status)
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(Buffer.from(JSON.stringify(problem)));
  };
  const verify = async (request: FastifyRequest, reply: FastifyReply, required: boolean) => {
    const result = await verifier.verify(verifyInputOf(request, required));
    if (!result.ok) return send(reply, result.reason);
    if (result.verdict !== null) request.ipStamp = result.verdict;
  };
  app.addHook('preParsing', async (request, reply) => {
    if (request.headers[STAMP_HEADER] !== undefined) return;
    const policy = routePolicy(request, true, false);
    if (policy !== 'skip' && policy.required) await verify(request, reply, true);
  });
  app.addHook('preParsing', async (request, _reply, payload) => (routePolicy(request, true, false) === 'skip' ? payload : teeStampedBody(request, payload)));
  app.addHook('preValidation', async (request, reply) => {
    const policy = routePolicy(request, true, false);
    if (policy !== 'skip') await verify(request, reply, policy.required);
  });
  addAppParts(app, 'plain');
  await app.ready();
  return app;
}

beforeAll(async () => {
  key = await makeKey('HS256', 'hooks-hs');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', now: () => NOW });
  digestStamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true, now: () => NOW });
  plugin = Fastify({ logger: false });
  await plugin.register(ipstamp, { keys: { keys: [key.publicJwk] }, now: () => NOW, echo: false });
  addAppParts(plugin, 'plugin');
  await plugin.ready();
  plain = await plainApp();
});
afterAll(async () => {
  await plugin?.close();
  await plain?.close();
});

describe('refusal bodies, serialized once per reason', () => {
  it('are the text of problemOf(reason), every reason, every time', () => {
    for (const reason of REASONS) {
      expect(problemText(reason)).toBe(JSON.stringify(problemOf(reason)));
      expect(problemText(reason)).toBe(JSON.stringify(problemOf(reason)));
    }
  });
});

type Stamp = 'none' | 'good' | 'replayed' | 'malformed' | 'unknown-key' | 'other-path' | 'body-digest' | 'tampered-body';

describe('callback hooks against the plain async path', () => {
  it('answer every request alike: status, headers, body, verdict, and the app hooks that ran', async () => {
    let serial = 0;
    const answers = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS'),
        fc.constantFrom('/orders', '/optional', '/open', '/missing-route'),
        fc.constantFrom<Stamp>('none', 'good', 'replayed', 'malformed', 'unknown-key', 'other-path', 'body-digest', 'tampered-body'),
        fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        fc.boolean(),
        async (method, path, stampKind, body, preflight) => {
          const url = `http://${HOST}${path}`;
          const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify({ text: body }));
          let token: string | undefined;
          if (stampKind === 'good' || stampKind === 'replayed') token = await stamper.stamp({ method, url });
          else if (stampKind === 'malformed') token = 'not.a.stamp!';
          else if (stampKind === 'unknown-key') {
            token = signRaw(
              key.privateJwk,
              { alg: 'HS256', typ: 'ipstamp+jwt', kid: 'nobody' },
              { ip: '127.0.0.1', iat: NOW / 1000, jti: `jti-${serial++}-0123456789abcdef`, htm: method, htu: url },
            );
          } else if (stampKind === 'other-path') token = await stamper.stamp({ method, url: `http://${HOST}/elsewhere` });
          else if (stampKind === 'body-digest') token = await digestStamper.stamp({ method, url, body: bytes ?? new Uint8Array(0) });
          else if (stampKind === 'tampered-body') token = await digestStamper.stamp({ method, url, body: Buffer.from('something else') });
          const headers: Record<string, string> = { host: HOST };
          if (token !== undefined) headers[STAMP_HEADER] = token;
          if (preflight) Object.assign(headers, { origin: 'https://app.example', 'access-control-request-method': 'POST' });
          if (bytes !== undefined) headers['content-type'] = 'application/json';
          const request = { method: method as 'GET', url: path, headers, payload: bytes };
          // a replay: the same stamp once before, to both
          if (stampKind === 'replayed') expect((await plugin.inject(request)).body).toBe((await plain.inject(request)).body);
          trail.plugin.length = 0;
          trail.plain.length = 0;
          // the same request to both, in turn: each app has its own replay store
          const a = await plugin.inject(request);
          const b = await plain.inject(request);
          expect(a.statusCode).toBe(b.statusCode);
          expect(a.headers['content-type']).toBe(b.headers['content-type']);
          expect(a.headers['cache-control']).toBe(b.headers['cache-control']);
          expect(a.body).toBe(b.body);
          expect(trail.plugin).toEqual(trail.plain);
          answers.add(a.statusCode === 200 ? `200 ${a.json().ipStamp === null ? 'null' : 'verdict'}` : `${a.statusCode} ${a.json().reason ?? a.json().code}`);
        },
      ),
      { numRuns: 300 },
    );
    // the runs reached acceptances, unstamped passes and refusals of several kinds
    expect(answers).toContain('200 verdict');
    expect(answers).toContain('200 null');
    for (const reason of ['missing', 'malformed', 'unknown-key', 'replay', 'binding-mismatch'])
      expect([...answers].some((x) => x.endsWith(` ${reason}`))).toBe(true);
  });
});

/** An instrumentation that changes nothing but makes every verification a promise (as openTelemetry() does). */
const asyncVerify: VerifierInstrumentation = { instrumentReplayStore: (store) => store, instrumentVerify: (verify) => async (input) => verify(input) };

describe('a refusal, or a verifier that fails, ends the request', () => {
  it('behind an async onSend hook (the reply not ended yet), neither the later hooks nor the handler run, whichever hook refused', async () => {
    const reached: string[] = [];
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (pre) => {
      // an app's async onSend (compression, signing, an audit trail): the response ends only once it settles
      pre.addHook('onSend', async (_request, _reply, payload) => {
        await new Promise((resolve) => setImmediate(resolve));
        return payload;
      });
      pre.addHook('preHandler', async (request) => void reached.push(`${request.method} ${request.url}`));
    });
    const elsewhere = createStamper({ key: key.privateJwk, ip: '198.51.100.7' });
    const answers = [
      // stampless: refused in preParsing
      await app.inject({ method: 'POST', url: '/orders', headers: { host: HOST, 'content-type': 'application/json' }, payload: '{}' }),
      // stamped for another address: refused in preValidation
      await app.inject({
        method: 'GET',
        url: '/orders',
        headers: { host: HOST, [STAMP_HEADER]: await elsewhere.stamp({ method: 'GET', url: `http://${HOST}/orders` }) },
      }),
    ];
    await app.close();
    expect(answers.map((a) => [a.statusCode, a.json().reason])).toEqual([
      [401, 'missing'],
      [403, 'ip-mismatch'],
    ]);
    expect(reached).toEqual([]);
  });

  it.each([
    ['at once', undefined],
    ['in a promise', asyncVerify],
  ])(
    'a verifier that throws %s (here its clock) fails the request through the error handler, on required and optional routes alike',
    async (_when, telemetry) => {
      let broken = false;
      const reached: string[] = [];
      const { app } = await buildApp(
        {
          keys: { keys: [key.publicJwk] },
          telemetry,
          now: () => {
            if (broken) throw new Error('clock unavailable');
            return Date.now();
          },
        },
        (pre) => {
          pre.addHook('preHandler', async (request) => void reached.push(request.url));
          pre.setErrorHandler(async (error: Error, _request, reply) => reply.code(500).send({ error: error.message }));
        },
      );
      broken = true;
      const live = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
      const answers = [];
      for (const path of ['/orders', '/optional']) {
        const token = await live.stamp({ method: 'GET', url: `http://${HOST}${path}` });
        const res = await app.inject({ method: 'GET', url: path, headers: { host: HOST, [STAMP_HEADER]: token } });
        answers.push([res.statusCode, res.json()]);
      }
      await app.close();
      expect(answers).toEqual([
        [500, { error: 'clock unavailable' }],
        [500, { error: 'clock unavailable' }],
      ]);
      expect(reached).toEqual([]);
    },
  );

  it('a logger that throws while the plugin reports a refusal fails the request (500): the refused stamp never reaches the handler', async () => {
    const handled: string[] = [];
    // fails on the plugin's own lines only (a broken transport, a serializer that throws)
    const logger = {
      level: 'info',
      info: (fields: unknown) => {
        if (typeof fields === 'object' && fields !== null && 'ipstamp' in fields) throw new Error('log transport down');
      },
      warn: () => undefined,
      error: () => undefined,
      fatal: () => undefined,
      debug: () => undefined,
      trace: () => undefined,
      silent: () => undefined,
      child: () => logger,
    };
    const app = Fastify({ loggerInstance: logger as never });
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    app.get('/orders', async (request) => (handled.push(request.url), 'handler'));
    const token = await createStamper({ key: key.privateJwk, ip: '198.51.100.7' }).stamp({ method: 'GET', url: `http://${HOST}/orders` });
    const res = await app.inject({ method: 'GET', url: '/orders', headers: { host: HOST, [STAMP_HEADER]: token } });
    await app.close();
    expect(res.statusCode).toBe(500);
    expect(handled).toEqual([]);
  });
});
