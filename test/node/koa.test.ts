/**
 * ipstamp/node in Koa, through the recipe of docs/node.md#koa (test/support/koa-stamp.ts), on
 * the real package: a refusal is ipstamp's answer, once, byte for byte what plain node:http
 * gets; an accepted request reaches the route with `ctx.state.ipStamp`; a failing verifier is
 * Koa's error; bodies, optional paths, the echo route, trusted proxies and the PROXY layer work
 * as on node:http; and hostile clients (a reset while the verdict is awaited, a body behind a
 * refusal, requests pipelined after one) are handled as ipstamp/node handles them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStampedFetch, createStamper, generateStampKey } from '../../client/index.js';
import { installProxyProtocol } from '../../server/index.js';
import { ipstamp, rawBodyVerify, trackPeerAddresses, type IpStampMiddlewareOptions, type Verdict } from '../../server/node/index.js';
import type { VerifierInstrumentation } from '../../server/verify/instrumentation.js';
import { gatedStore, type GatedStore } from '../support/gated-store.js';
import { koaStamp } from '../support/koa-stamp.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { exchangeUntilClosed as exchange, sendJson, statusLines, withoutDates } from '../support/raw-exchange.js';

const servers: Server[] = [];
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => void process.on('unhandledRejection', recordUnhandled));
afterEach(async () => {
  process.off('unhandledRejection', recordUnhandled);
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  expect(unhandled.splice(0)).toEqual([]);
});

/** An instrumentation that changes nothing but makes every verification a promise (as openTelemetry() does, or a Redis store). */
const asyncVerify: VerifierInstrumentation = { instrumentReplayStore: (store) => store, instrumentVerify: (verify) => async (input) => verify(input) };

interface KoaServer {
  origin: string;
  port: number;
  /** What a Koa middleware ahead of ipstamp (a logger) saw after the chain: `METHOD path status`. */
  logged: string[];
  /** The messages of Koa's `app.on('error')`. */
  errors: string[];
  /** The paths the routes after ipstamp were reached for. */
  reached: string[];
}

/**
 * A Koa app: a logger, the `body` reader when asked, ipstamp through the recipe, then a route
 * answering `{ ipStamp, body }`. `mount` puts the ipstamp middleware on the chain (per path…).
 */
async function koaServer(mount: (app: Koa) => void, options: { readBody?: boolean; server?: (app: Koa) => Server } = {}): Promise<KoaServer> {
  const app = new Koa();
  const logged: string[] = [];
  const errors: string[] = [];
  const reached: string[] = [];
  app.silent = true;
  app.on('error', (error: Error) => void errors.push(error.message));
  app.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      logged.push(`${ctx.method} ${ctx.path} ${ctx.status}`);
    }
  });
  if (options.readBody === true) {
    app.use(async (ctx, next) => {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
      ctx.state.body = Buffer.concat(chunks);
      rawBodyVerify(ctx.req, ctx.res, ctx.state.body as Buffer);
      await next();
    });
  }
  mount(app);
  app.use((ctx) => {
    reached.push(ctx.path);
    ctx.body = { ipStamp: ctx.state.ipStamp as Verdict | null, body: (ctx.state.body as Buffer | undefined)?.toString() };
  });
  const server = trackPeerAddresses(options.server?.(app) ?? app.listen(0, '127.0.0.1'));
  servers.push(server);
  if (!server.listening) await new Promise((done) => server.once('listening', done));
  const port = (server.address() as AddressInfo).port;
  return { origin: `http://127.0.0.1:${port}`, port, logged, errors, reached };
}

/** The same middleware on plain node:http, as docs/node.md shows it: the answer Koa must equal. */
async function plainServer(stamp: ReturnType<typeof ipstamp>): Promise<{ origin: string; port: number }> {
  const server = trackPeerAddresses(
    createServer((req: IncomingMessage, res: ServerResponse) => {
      stamp(req, res, (error) => {
        if (error) return void res.writeHead(500).end();
        res.end(JSON.stringify({ ipStamp: req.ipStamp }));
      });
    }),
  );
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  return { origin: `http://127.0.0.1:${port}`, port };
}

/** What the test app answers. */
type KoaAnswer = { ipStamp?: Verdict | null; body?: string; reason?: string; ip?: string };

let key: TestKeyPair;
beforeEach(async () => {
  key ??= await makeKey('HS256', 'koa');
});

const stampOptions = (more: Partial<IpStampMiddlewareOptions> = {}): IpStampMiddlewareOptions => ({ keys: { keys: [key.publicJwk] }, ...more });
const tokenFor = (url: string, options: { method?: string; ip?: string; body?: string } = {}) =>
  createStamper({ key: key.privateJwk, ip: options.ip ?? '127.0.0.1', bodyDigest: options.body !== undefined }).stamp({
    method: options.method ?? 'GET',
    url,
    body: options.body,
  });

describe.each([
  ['at once', undefined],
  ['in a promise', asyncVerify],
])('Koa: the recipe, the verdict arriving %s', (_when, telemetry) => {
  it('a refusal is answered once, exactly as on plain node:http; the logger ahead of ipstamp sees its status; the route never runs', async () => {
    const stamp = ipstamp(stampOptions({ telemetry }));
    const koa = await koaServer((app) => app.use(koaStamp(stamp)));
    const plain = await plainServer(ipstamp(stampOptions({ telemetry })));
    const replayed = await tokenFor(`${koa.origin}/orders`);
    // a replay is refused after the store answered (a promise with telemetry): the late path
    expect((await sendJson<KoaAnswer>(`${koa.origin}/orders`, { headers: { 'client-ip-attestation': replayed } })).status).toBe(200);
    const plainReplayed = await tokenFor(`${plain.origin}/orders`);
    expect((await sendJson<KoaAnswer>(`${plain.origin}/orders`, { headers: { 'client-ip-attestation': plainReplayed } })).status).toBe(200);

    const ask = (target: { port: number }, headers: string) =>
      exchange(target.port, `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${target.port}\r\n${headers}connection: close\r\n\r\n`);
    const missing = await ask(koa, '');
    const replay = await ask(koa, `client-ip-attestation: ${replayed}\r\n`);
    expect(withoutDates(missing)).toBe(withoutDates(await ask(plain, '')));
    expect(withoutDates(replay)).toBe(withoutDates(await ask(plain, `client-ip-attestation: ${plainReplayed}\r\n`)));
    expect(statusLines(missing + replay)).toEqual(['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 401 Unauthorized']);
    expect(missing).toMatch(/\r\ncontent-type: application\/problem\+json\r\ncache-control: no-store\r\n/);
    expect(JSON.parse(replay.slice(replay.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 401, reason: 'replay' });

    expect(koa.logged).toEqual(['GET /orders 200', 'GET /orders 401', 'GET /orders 401']);
    expect(koa.reached).toEqual(['/orders']);
    expect(koa.errors).toEqual([]);
  });

  it('an accepted request reaches the route with ctx.state.ipStamp, the verdict', async () => {
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions({ telemetry })))));
    const res = await sendJson<KoaAnswer>(`${koa.origin}/orders?x=1`, { headers: { 'client-ip-attestation': await tokenFor(`${koa.origin}/orders?x=1`) } });
    expect([res.status, res.json.ipStamp?.ip, res.json.ipStamp?.agreement, res.json.ipStamp?.kid]).toEqual([200, '127.0.0.1', 'match', 'koa']);
    expect(koa.logged).toEqual(['GET /orders 200']);
  });

  it("a verifier that throws (its clock) is Koa's error: 500 from Koa, app.on('error') told once, the route never runs", async () => {
    let broken = false;
    const now = () => {
      if (broken) throw new Error('clock unavailable');
      return Date.now();
    };
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions({ telemetry, now })))));
    broken = true;
    const answer = await exchange(
      koa.port,
      `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${koa.port}\r\nclient-ip-attestation: ${await tokenFor(`${koa.origin}/orders`)}\r\nconnection: close\r\n\r\n`,
    );
    expect(statusLines(answer)).toEqual(['HTTP/1.1 500 Internal Server Error']);
    expect(answer.endsWith('\r\n\r\nInternal Server Error')).toBe(true);
    expect(koa.errors).toEqual(['clock unavailable']);
    expect(koa.reached).toEqual([]);
  });
});

describe('Koa: bodies, options and the connection helpers', () => {
  it('a stamped POST whose digest covers the body read before ipstamp is accepted and the route gets the body; another body is binding-mismatch', async () => {
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions()))), { readBody: true });
    const url = `${koa.origin}/orders`;
    const headers = { 'content-type': 'application/json' };
    const signed = await tokenFor(url, { method: 'POST', body: '{"item":42}' });
    const accepted = await sendJson<KoaAnswer>(url, { method: 'POST', headers: { ...headers, 'client-ip-attestation': signed }, body: '{"item":42}' });
    expect([accepted.status, accepted.json.ipStamp?.agreement, accepted.json.body]).toEqual([200, 'match', '{"item":42}']);
    const other = await tokenFor(url, { method: 'POST', body: '{"item":42}' });
    const changed = await sendJson<KoaAnswer>(url, { method: 'POST', headers: { ...headers, 'client-ip-attestation': other }, body: '{"item":43}' });
    expect([changed.status, changed.json.reason]).toEqual([401, 'binding-mismatch']);
    expect(koa.reached).toEqual(['/orders']);
  });

  it('required on some paths, optional on others, from one ipstamp(): by path ahead of the routes', async () => {
    const stamp = ipstamp(stampOptions());
    const koa = await koaServer((app) => {
      const required = koaStamp(stamp);
      const optional = koaStamp(stamp.optional);
      app.use((ctx, next) => (ctx.path.startsWith('/public/') ? optional(ctx, next) : required(ctx, next)));
    });
    const open = await sendJson<KoaAnswer>(`${koa.origin}/public/menu`);
    const closed = await sendJson<KoaAnswer>(`${koa.origin}/orders`);
    const stamped = await sendJson<KoaAnswer>(`${koa.origin}/public/menu`, {
      headers: { 'client-ip-attestation': await tokenFor(`${koa.origin}/public/menu`) },
    });
    expect([open.status, open.json.ipStamp]).toEqual([200, null]);
    expect([closed.status, closed.json.reason]).toEqual([401, 'missing']);
    expect([stamped.status, stamped.json.ipStamp?.agreement]).toEqual([200, 'match']);
    expect(koa.logged).toEqual(['GET /public/menu 200', 'GET /orders 401', 'GET /public/menu 200']);
  });

  it('mounted under a prefix (koa-mount rewrites ctx.path, and so req.url): htu is the URL as received', async () => {
    const koa = await koaServer((app) => {
      const stamp = koaStamp(ipstamp(stampOptions()));
      // what koa-mount('/api', subApp) does around the mounted app's middleware
      app.use(async (ctx, next) => {
        if (!ctx.path.startsWith('/api/')) return next();
        const prev = ctx.path;
        ctx.path = prev.slice('/api'.length);
        try {
          await stamp(ctx, next);
        } finally {
          ctx.path = prev;
        }
      });
    });
    const url = `${koa.origin}/api/orders?page=2`;
    const res = await sendJson<KoaAnswer>(url, { headers: { 'client-ip-attestation': await tokenFor(url) } });
    expect([res.status, res.json.ipStamp?.agreement]).toEqual([200, 'match']);
    // a stamp for the rewritten URL is for another URL than the one sent
    const inner = await sendJson<KoaAnswer>(url, { headers: { 'client-ip-attestation': await tokenFor(`${koa.origin}/orders?page=2`) } });
    expect([inner.status, inner.json.reason]).toEqual([401, 'binding-mismatch']);
    expect(koa.reached).toEqual(['/orders']);
  });

  it("the echo route answers through Koa: createStampedFetch({ ip: 'echo' }) learns its address there and is accepted", async () => {
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions()))));
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo' });
    const res = await stampedFetch(`${koa.origin}/orders`);
    const verdict = ((await res.json()) as { ipStamp: Verdict }).ipStamp;
    expect([res.status, verdict.ip, verdict.agreement]).toEqual([200, '127.0.0.1', 'match']);
    expect(koa.logged).toEqual(['GET /.well-known/ipstamp 200', 'GET /orders 200']);
    expect(koa.reached).toEqual(['/orders']);
  });

  it('the ticket routes answer through Koa: a client stamping with a ticket from the Koa app is accepted by it', async () => {
    const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'koa-edge', alg: 'EdDSA' };
    // the app trusts its own tickets: made at the first request, once its origin is known
    let origin = '';
    let stamp: Koa.Middleware | undefined;
    const koa = await koaServer((app) =>
      app.use((ctx, next) => {
        stamp ??= koaStamp(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey }, issuers: { [origin]: `${origin}/.well-known/ipstamp/issuer-jwks` } }));
        return stamp(ctx, next);
      }),
    );
    origin = koa.origin;
    const stampedFetch = createStampedFetch({ key: await generateStampKey({ alg: 'ES256' }), ip: 'ticket', issuer: koa.origin });
    const res = await stampedFetch(`${koa.origin}/orders`, { method: 'POST', body: '{"item":"tea"}' });
    const verdict = ((await res.json()) as { ipStamp: Verdict }).ipStamp;
    expect([res.status, verdict.ip, verdict.source, verdict.issuer]).toEqual([200, '127.0.0.1', 'ticket', koa.origin]);
    expect(koa.logged).toEqual(['POST /.well-known/ipstamp/ticket 200', 'GET /.well-known/ipstamp/issuer-jwks 200', 'POST /orders 200']);
  });

  it("trustedProxies: a trusted peer's X-Forwarded-For names the client; a stranger's is ip-mismatch", async () => {
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions({ trustedProxies: ['127.0.0.2'] })))));
    const forwarded = async () => ({
      'x-forwarded-for': '198.51.100.7',
      'client-ip-attestation': await tokenFor(`${koa.origin}/orders`, { ip: '198.51.100.7' }),
    });
    const trusted = await sendJson<KoaAnswer>(`${koa.origin}/orders`, { headers: await forwarded(), from: '127.0.0.2' });
    const stranger = await sendJson<KoaAnswer>(`${koa.origin}/orders`, { headers: await forwarded(), from: '127.0.0.3' });
    expect([trusted.status, trusted.json.ipStamp?.ip, trusted.json.ipStamp?.agreement]).toEqual([200, '198.51.100.7', 'match']);
    expect([stranger.status, stranger.json.reason]).toEqual([403, 'ip-mismatch']);
  });

  it("installProxyProtocol on the server app.listen() returns: a trusted proxy's PROXY source is the client", async () => {
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions({ trustedProxies: ['127.0.0.1'] })))), {
      server: (app) => installProxyProtocol(app.listen(0, '127.0.0.1'), { trustedProxies: ['127.0.0.1'] }),
    });
    const token = await tokenFor(`${koa.origin}/orders`, { ip: '203.0.113.9' });
    const answer = await exchange(
      koa.port,
      `PROXY TCP4 203.0.113.9 127.0.0.1 40000 ${koa.port}\r\nGET /orders HTTP/1.1\r\nhost: 127.0.0.1:${koa.port}\r\nclient-ip-attestation: ${token}\r\nconnection: close\r\n\r\n`,
    );
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200 OK']);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      ipStamp: { ip: '203.0.113.9', agreement: 'match', hints: { l3: '127.0.0.1', l4: '203.0.113.9', decidedBy: 'l4' } },
    });
  });
});

describe('Koa: hostile clients', () => {
  /** Writes a stamped GET to `koa` and resets once the store was asked; then lets the store answer `fresh`. */
  async function resetWhileAwaited(koa: KoaServer, gate: GatedStore, fresh: boolean): Promise<void> {
    const socket = connect({ host: '127.0.0.1', port: koa.port });
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(`GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${koa.port}\r\nclient-ip-attestation: ${await tokenFor(`${koa.origin}/orders`)}\r\n\r\n`);
    await gate.asked;
    socket.resetAndDestroy();
    await closed;
    // the server has seen the reset (Koa's own report of it) before the verdict comes
    await vi.waitFor(() => expect(koa.errors).toEqual(['read ECONNRESET']), { timeout: 10_000 });
    gate.answer(fresh);
    await new Promise((resolve) => setImmediate(resolve));
  }

  it.each([
    ['refused (replay)', false, []],
    ['accepted', true, ['/orders']],
  ])(
    'a client that resets while the verdict is awaited, then %s: nothing thrown, nothing written twice, the server goes on',
    async (_outcome, fresh, reached) => {
      const gate = gatedStore();
      const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions({ replayStore: gate.store })))));
      await resetWhileAwaited(koa, gate, fresh);
      // the same reset on a Koa route that awaits the same store without ipstamp: Koa reports it once, itself
      const control = gatedStore();
      const bare = await koaServer((app) => app.use(async (_ctx, next) => void ((await control.store.insertIfAbsent('k', 1000)) && (await next()))));
      await resetWhileAwaited(bare, control, fresh);
      expect(koa.errors).toEqual(bare.errors);
      expect(koa.logged).toEqual(['GET /orders 404']);
      // accepted after the client left: the route runs as it would on Express, its answer goes nowhere
      expect(koa.reached).toEqual(reached);
      const echo = await sendJson<KoaAnswer>(`${koa.origin}/.well-known/ipstamp`);
      expect([echo.status, echo.json.ip]).toEqual([200, '127.0.0.1']);
    },
  );

  it('a client that resets while the verdict is awaited, then accepted, and the route throws: nothing unhandled', async () => {
    const gate = gatedStore();
    let thrown = 0;
    const koa = await koaServer((app) => {
      app.use(koaStamp(ipstamp(stampOptions({ replayStore: gate.store }))));
      app.use(() => {
        thrown++;
        throw new Error('route failed');
      });
    });
    await resetWhileAwaited(koa, gate, true);
    expect(thrown).toBe(1);
    // Koa's chain ended when the client left: the late route's error has nobody to go to
    expect(koa.errors).toEqual(['read ECONNRESET']);
  });

  const POSTED = 'x'.repeat(1000);
  const pipeline = (port: number, token: string) =>
    `POST /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: ${POSTED.length}\r\n\r\n${POSTED}` +
    `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n` +
    `GET /.well-known/ipstamp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n` +
    `GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nclient-ip-attestation: ${token}\r\nconnection: close\r\n\r\n`;

  it('a refused POST with its body behind it, and requests pipelined after refusals: each answered in turn, as plain node:http answers them', async () => {
    const koa = await koaServer((app) => app.use(koaStamp(ipstamp(stampOptions()))));
    const plain = await plainServer(ipstamp(stampOptions()));
    const onKoa = await exchange(koa.port, pipeline(koa.port, await tokenFor(`${koa.origin}/orders`)));
    const onPlain = await exchange(plain.port, pipeline(plain.port, await tokenFor(`${plain.origin}/orders`)));
    expect(statusLines(onKoa)).toEqual(['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 401 Unauthorized', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(statusLines(onKoa)).toEqual(statusLines(onPlain));
    expect(koa.logged).toEqual(['POST /orders 401', 'GET /orders 401', 'GET /.well-known/ipstamp 200', 'GET /orders 200']);
    expect(koa.errors).toEqual([]);
  });
});
