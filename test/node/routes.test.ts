import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { createStampedFetch, createStamper, generateStampKey } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp, rawBodyVerify, trackPeerAddresses, type Verdict } from '../../server/node/index.js';
import type { VerifierInstrumentation } from '../../server/verify/instrumentation.js';
import { gatedStore } from '../support/gated-store.js';
import { makeKey } from '../support/keys.js';
import { writeAndReset } from '../support/reset-client.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

async function listen(app: express.Express): Promise<string> {
  const server = trackPeerAddresses(app.listen(0, '127.0.0.1'));
  servers.push(server);
  await new Promise((done) => server.once('listening', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };

describe('ipstamp/node ticket routes (Express 5)', () => {
  it('an edge issues tickets an inner verifier accepts; its JWK Set is served; the limit per observed address answers 429', async () => {
    const edge = express();
    edge.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey, rateLimit: 2 } }));
    const edgeOrigin = await listen(edge);
    const jwks = await fetch(`${edgeOrigin}/.well-known/ipstamp/issuer-jwks`);
    expect([jwks.status, jwks.headers.get('cache-control')]).toEqual([200, 'public, max-age=300']);
    expect(((await jwks.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual(['edge-1']);

    const api = express();
    api.use(ipstamp({ keys: { keys: [] }, issuers: { [edgeOrigin]: `${edgeOrigin}/.well-known/ipstamp/issuer-jwks` } }));
    api.post('/orders', (req, res) => void res.json(req.ipStamp));
    const apiOrigin = await listen(api);

    const key = await generateStampKey({ alg: 'ES256' });
    const stampedFetch = createStampedFetch({ key, ip: 'ticket', issuer: edgeOrigin });
    const res = await stampedFetch(`${apiOrigin}/orders`, { method: 'POST', body: '{"item":"tea"}' });
    const verdict = (await res.json()) as Verdict;
    expect([res.status, verdict.ip, verdict.agreement, verdict.source, verdict.issuer]).toEqual([200, '127.0.0.1', 'match', 'ticket', edgeOrigin]);

    // one ticket issued so far: one more passes the limit of 2, the next is refused before it is read
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await fetch(`${edgeOrigin}/.well-known/ipstamp/ticket`, { method: 'POST' })).status);
    expect(statuses).toEqual([401, 429]);
    const limited = await fetch(`${edgeOrigin}/.well-known/ipstamp/ticket`, { method: 'POST' });
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(((await limited.json()) as { reason: string }).reason).toBe('rate-limited');
  });
});

describe('a ticket that lives less than 30 s', () => {
  it('is asked for once for a run of stamped requests, not before each until the rate limit refuses', async () => {
    const edge = express();
    let asked = 0;
    edge.use((req, _res, next) => {
      if (req.path === '/.well-known/ipstamp/ticket') asked++;
      next();
    });
    edge.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey, lifetime: 20, rateLimit: 3 } }));
    const edgeOrigin = await listen(edge);
    const api = express();
    api.use(ipstamp({ keys: { keys: [] }, issuers: { [edgeOrigin]: `${edgeOrigin}/.well-known/ipstamp/issuer-jwks` } }));
    api.get('/orders', (req, res) => void res.json(req.ipStamp));
    const apiOrigin = await listen(api);

    const stampedFetch = createStampedFetch({ key: await generateStampKey({ alg: 'ES256' }), ip: 'ticket', issuer: edgeOrigin });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await stampedFetch(`${apiOrigin}/orders`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(asked).toBe(1);
  });
});

describe('ipstamp/node: the issuer answers only its own requests', () => {
  // any other method on its paths once went to the app's next handler unverified (ipStamp null)
  it('another method on the ticket or JWK Set path is verified like any request: refused without a stamp', async () => {
    const app = express();
    app.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey } }));
    const reached: string[] = [];
    app.use((req, res) => {
      reached.push(`${req.method} ${req.path}`);
      res.json({ ipStamp: req.ipStamp });
    });
    const origin = await listen(app);
    const statuses = [];
    for (const [method, path] of [
      ['GET', '/.well-known/ipstamp/ticket'],
      ['PUT', '/.well-known/ipstamp/ticket'],
      ['POST', '/.well-known/ipstamp/issuer-jwks'],
      ['DELETE', '/.well-known/ipstamp/issuer-jwks'],
    ]) {
      const res = await fetch(`${origin}${path}`, { method });
      statuses.push([method, res.status, ((await res.json()) as { reason?: string }).reason]);
    }
    expect(statuses).toEqual([
      ['GET', 401, 'missing'],
      ['PUT', 401, 'missing'],
      ['POST', 401, 'missing'],
      ['DELETE', 401, 'missing'],
    ]);
    expect(reached).toEqual([]);
  });
});

describe('ipstamp/node options and surface', () => {
  it('a wrong option is a TypeError naming it, at setup', () => {
    const keys = { keys: [] };
    expect(() => ipstamp({ keys, required: 'yes' as unknown as boolean })).toThrow(new TypeError('required must be a boolean'));
    expect(() => ipstamp({ keys, echo: 1 as unknown as boolean })).toThrow(new TypeError('echo must be a boolean'));
    expect(() => ipstamp({ keys, bodyLimit: -1 })).toThrow(new TypeError('bodyLimit must be a whole number of bytes'));
    expect(() => ipstamp({ keys, bodyLimit: 1.5 })).toThrow(new TypeError('bodyLimit must be a whole number of bytes'));
    // a whole number of bytes, and the middleware's own option (the verifier never sees it)
    expect(() => ipstamp({ keys, bodyLimit: 0 })).not.toThrow();
    expect(() => ipstamp({ keys, issuer: { key: issuerKey, rateLimit: 0 } })).toThrow(/^issuer\.rateLimit must be/);
    expect(() => ipstamp({ keys, issuer: { key: issuerKey, lifetime: 0 } })).toThrow(/^issuer\.lifetime/);
    expect(() => ipstamp({ keys, maxAge: 0 })).toThrow(/^maxAge/);
  });

  it('an unknown option is a TypeError naming it: a typo never keeps a default', () => {
    const keys = { keys: [] };
    expect(() => ipstamp({ keys, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    // the Fastify plugin's deprecated name is no option here: `required` is
    expect(() => ipstamp({ keys, requireStamp: false } as never)).toThrow(new TypeError('unknown option "requireStamp"'));
    expect(() => ipstamp({ keys, trustedProxy: ['10.0.0.1'] } as never)).toThrow(/^unknown option "trustedProxy" \(did you mean "trustedProxies"\?\)$/);
    expect(() => ipstamp({ keys, issuer: { key: issuerKey, ttl: 5 } as never })).toThrow(new TypeError('unknown option "issuer.ttl"'));
    // every option of the verifier passes through, telemetry and replayStore included
    expect(() =>
      ipstamp({ keys, replayStore: { insertIfAbsent: () => true }, onStoreError: 'reject', requireBodyDigest: false, telemetry: undefined }),
    ).not.toThrow();
  });

  it('CORS preflights pass untouched; echo: false leaves the echo path to the app', async () => {
    const app = express();
    app.use(ipstamp({ keys: { keys: [] }, echo: false }));
    app.options('/orders', (req, res) => void res.status(204).setHeader('x-ip-stamp', JSON.stringify(req.ipStamp)).end());
    app.get('/.well-known/ipstamp', (_req, res) => void res.json({ mine: true }));
    const origin = await listen(app);
    const preflight = await fetch(`${origin}/orders`, { method: 'OPTIONS', headers: { origin: 'http://a.example', 'access-control-request-method': 'POST' } });
    expect([preflight.status, preflight.headers.get('x-ip-stamp')]).toEqual([204, 'null']);
    const plainOptions = await fetch(`${origin}/orders`, { method: 'OPTIONS' });
    expect(plainOptions.status).toBe(401);
    expect((await fetch(`${origin}/.well-known/ipstamp`)).status).toBe(401);
  });

  it('a mount path: htu is the URL as received (originalUrl), not the router-relative one', async () => {
    const key = await makeKey('HS256', 'mount');
    const app = express();
    const router = express.Router();
    router.use(ipstamp({ keys: { keys: [key.publicJwk] } }));
    router.get('/orders', (req, res) => void res.json(req.ipStamp));
    app.use('/api', router);
    const origin = await listen(app);
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/api/orders` });
    const res = await fetch(`${origin}/api/orders`, { headers: { 'client-ip-attestation': token } });
    expect(res.status).toBe(200);
  });

  it('the same middleware twice on one request (app-wide, then on the route) verifies once; a required one after an optional one still refuses a missing stamp', async () => {
    const key = await makeKey('HS256', 'twice');
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, required: false });
    const app = express();
    app.use(stamp);
    app.get('/orders', stamp, (req, res) => void res.json(req.ipStamp));
    app.get('/strict', ipstamp({ keys: { keys: [key.publicJwk] } }), (req, res) => void res.json(req.ipStamp));
    const origin = await listen(app);
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/orders` });
    const res = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': token } });
    expect([res.status, ((await res.json()) as Verdict).agreement]).toEqual([200, 'match']);
    const plain = await fetch(`${origin}/strict`);
    expect([plain.status, ((await plain.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
  });

  it('req.ipStamp is typed on http.IncomingMessage and so on Express requests', () => {
    expectTypeOf<IncomingMessage['ipStamp']>().toEqualTypeOf<Verdict | null | undefined>();
    expectTypeOf<express.Request['ipStamp']>().toEqualTypeOf<Verdict | null | undefined>();
  });
});

describe('ipstamp/node: the paths it answers itself', () => {
  it('only GET on the echo path (any query) and its own methods on the issuer paths: a stamped request of another method is verified and reaches the app', async () => {
    const key = await makeKey('HS256', 'other-methods');
    const app = express();
    app.use(ipstamp({ keys: { keys: [key.publicJwk] }, issuer: { key: issuerKey } }));
    app.use((req, res) => void res.json({ app: `${req.method} ${req.path}`, ip: req.ipStamp?.ip }));
    const origin = await listen(app);
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    const answers = [];
    for (const [method, path] of [
      ['PUT', '/.well-known/ipstamp/ticket'],
      ['GET', '/.well-known/ipstamp/ticket'],
      ['POST', '/.well-known/ipstamp/issuer-jwks'],
      ['POST', '/.well-known/ipstamp'],
    ] as const) {
      const res = await fetch(`${origin}${path}`, { method, headers: { 'client-ip-attestation': await stamper.stamp({ method, url: `${origin}${path}` }) } });
      answers.push([res.status, await res.json()]);
    }
    expect(answers).toEqual([
      [200, { app: 'PUT /.well-known/ipstamp/ticket', ip: '127.0.0.1' }],
      [200, { app: 'GET /.well-known/ipstamp/ticket', ip: '127.0.0.1' }],
      [200, { app: 'POST /.well-known/ipstamp/issuer-jwks', ip: '127.0.0.1' }],
      [200, { app: 'POST /.well-known/ipstamp', ip: '127.0.0.1' }],
    ]);
    const echo = await fetch(`${origin}/.well-known/ipstamp?fresh=1`);
    expect([echo.status, echo.headers.get('cache-control'), await echo.json()]).toEqual([200, 'no-store', { ip: '127.0.0.1', time: expect.any(Number) }]);
  });

  it('the echo of a connection gone before the middleware read its peer refuses ip-unverifiable, never an address-less 200', async () => {
    const statuses: number[] = [];
    let answered!: () => void;
    const answering = new Promise<void>((resolve) => (answered = resolve));
    const app = express();
    // an app middleware that waits (here: until the client is gone) before ipstamp runs
    app.use((req, res, next) => {
      req.socket.once('close', () => {
        next();
        statuses.push(res.statusCode);
        answered();
      });
    });
    app.use(ipstamp({ keys: { keys: [] } }));
    // not given to trackPeerAddresses: the peer is read late, and the reset leaves none
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((done) => server.once('listening', done));
    await writeAndReset((server.address() as AddressInfo).port, '/.well-known/ipstamp', {});
    await answering;
    expect(statuses).toEqual([403]);
  });
});

describe('ipstamp/node ticket route: its limit and its body', () => {
  const TICKET = '/.well-known/ipstamp/ticket';

  it('by default 30 requests per observed address; behind a trusted proxy each client it names has its own, one per IPv6 /64', async () => {
    const app = express();
    app.use(ipstamp({ keys: { keys: [] }, trustedProxies: ['127.0.0.1'], issuer: { key: issuerKey } }));
    const origin = await listen(app);
    const ask = async (client: string) => (await fetch(`${origin}${TICKET}`, { method: 'POST', headers: { 'x-forwarded-for': client } })).status;
    const first: number[] = [];
    for (let i = 0; i < 31; i++) first.push(await ask('2001:db8:1:2::1'));
    expect(first).toEqual([...Array<number>(30).fill(401), 429]);
    // the same /64, another /64, another client
    expect([await ask('2001:db8:1:2::ffff'), await ask('2001:db8:1:3::1'), await ask('198.51.100.1')]).toEqual([429, 401, 401]);
  });

  it('a body of bodyLimit bytes is read, one past it is 413 body-too-large; a body a parser already read is taken from it', { timeout: 10_000 }, async () => {
    const app = express();
    app.use(express.json({ verify: rawBodyVerify }));
    app.use(ipstamp({ keys: { keys: [] }, bodyLimit: 16, issuer: { key: issuerKey } }));
    const origin = await listen(app);
    const client = await generateStampKey({ alg: 'ES256' });
    const ask = async (body: string, type: string) =>
      fetch(`${origin}${TICKET}`, {
        method: 'POST',
        headers: { 'content-type': type, 'client-ip-attestation': await createTicketRequestProof(client, `${origin}${TICKET}`) },
        body,
      });
    const exact = await ask('x'.repeat(16), 'application/octet-stream');
    expect(exact.status).toBe(200);
    const large = await ask('x'.repeat(17), 'application/octet-stream');
    expect([large.status, large.headers.get('content-type'), large.headers.get('cache-control'), ((await large.json()) as { reason: string }).reason]).toEqual([
      413,
      'application/problem+json',
      'no-store',
      'body-too-large',
    ]);
    // express.json() read this one already: waiting for its stream to end again would never end
    const parsed = await ask('{"a":1}', 'application/json');
    expect([parsed.status, ((await parsed.json()) as { ip: string }).ip]).toEqual([200, '127.0.0.1']);
  });

  it('a ticket request whose client resets mid-body reaches the error handler (no unhandled rejection), and the server goes on', async () => {
    const errors: string[] = [];
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let closed!: () => void;
    const closing = new Promise<void>((resolve) => (closed = resolve));
    const app = express();
    app.use((req, _res, next) => {
      req.once('close', closed);
      arrived();
      next();
    });
    app.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey } }));
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(error.message);
      res.destroy();
    });
    const origin = await listen(app);
    const port = Number(new URL(origin).port);
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.write(
      `POST ${TICKET} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000\r\n\r\n${'x'.repeat(10)}`,
    );
    // the middleware runs synchronously after the app's first one: it is reading the body now
    await arrival;
    socket.resetAndDestroy();
    await closing;
    // the rejection and next(error) follow the stream's error within the same turn
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual(['aborted']);
    expect((await fetch(`${origin}/.well-known/ipstamp`)).status).toBe(200);
  });
});

/** An instrumentation that changes nothing but makes every verification a promise (as openTelemetry() does). */
const asyncVerify: VerifierInstrumentation = { instrumentReplayStore: (store) => store, instrumentVerify: (verify) => async (input) => verify(input) };

describe('ipstamp/node: a refusal, or a verifier that fails, ends the request', () => {
  it('stamp.optional app-wide, then the same middleware required on a route: an unstamped request is still refused there', async () => {
    const key = await makeKey('HS256', 'optional-first');
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] } });
    const app = express();
    app.use(stamp.optional);
    app.get('/strict', stamp, (req, res) => void res.json({ ipStamp: req.ipStamp }));
    app.get('/loose', (req, res) => void res.json({ ipStamp: req.ipStamp }));
    const origin = await listen(app);
    const strict = await fetch(`${origin}/strict`);
    expect([strict.status, strict.headers.get('cache-control'), ((await strict.json()) as { reason?: string }).reason]).toEqual([401, 'no-store', 'missing']);
    const loose = await fetch(`${origin}/loose`);
    expect([loose.status, await loose.json()]).toEqual([200, { ipStamp: null }]);
    // a stamp accepted app-wide is not checked again on the route (it would be a replay)
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/strict` });
    const stamped = await fetch(`${origin}/strict`, { headers: { 'client-ip-attestation': token } });
    expect([stamped.status, ((await stamped.json()) as { ipStamp: Verdict }).ipStamp.agreement]).toEqual([200, 'match']);
  });

  it('a refusal decided after the app already answered (a timeout middleware, while the store is slow) writes nothing and throws nothing', async () => {
    const key = await makeKey('HS256', 'answered-first');
    const gate = gatedStore();
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const app = express();
      // what connect-timeout and its kind do: answer while the request is still in the chain
      app.use((_req, res, next) => {
        void gate.asked.then(() => res.status(503).json({ error: 'timed out' }));
        next();
      });
      app.use(ipstamp({ keys: { keys: [key.publicJwk] }, replayStore: gate.store }));
      app.get('/orders', (req, res) => void res.json(req.ipStamp));
      const origin = await listen(app);
      const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/orders` });
      const res = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': token } });
      expect([res.status, await res.json()]).toEqual([503, { error: 'timed out' }]);
      gate.answer(false); // a replay: refused, on a response already answered
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect((await fetch(`${origin}/.well-known/ipstamp`)).status).toBe(200);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it.each([
    ['at once', undefined],
    ['in a promise', asyncVerify],
  ])('a verifier that throws %s (here its clock) fails the request through next(error): the handler never runs', async (_when, telemetry) => {
    const key = await makeKey('HS256', 'broken-clock');
    let broken = false;
    const stamp = ipstamp({
      keys: { keys: [key.publicJwk] },
      telemetry,
      now: () => {
        if (broken) throw new Error('clock unavailable');
        return Date.now();
      },
    });
    broken = true;
    const reached: string[] = [];
    const errors: string[] = [];
    const app = express();
    app.use(stamp.optional);
    app.get('/orders', (req, res) => {
      reached.push(req.path);
      res.json({ ipStamp: req.ipStamp });
    });
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(error.message);
      res.status(500).json({ error: error.message });
    });
    const origin = await listen(app);
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/orders` });
    const res = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': token } });
    expect(res.status).toBe(500);
    expect(reached).toEqual([]);
    expect(errors).toEqual(['clock unavailable']);
  });
});
