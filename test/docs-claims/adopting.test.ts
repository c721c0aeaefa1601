import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono, type Context } from 'hono';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, createStamper } from '../../client/index.js';
import { ipstamp as fastifyIpstamp, rateLimitKeyOf, type IpStampPluginOptions } from '../../server/fastify/index.js';
import { ipstamp as honoIpstamp, type IpStampVariables } from '../../server/hono/index.js';
import { createKeyRegistry, createKeySet, createVerifier } from '../../server/index.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { inMemorySdk, type InMemorySdk } from '../support/otel.js';
import { outcomeOf, stampedGet } from '../support/stamped-get.js';

/**
 * docs/adopting.md, the rollout guide for an app whose clients do not stamp yet: what it tells
 * an engineer who measures before enforcing, and behind which load balancer settings the
 * verified address means anything. Its two runnable examples are in test/readme.test.ts.
 */
const { attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
const CLIENT = '198.51.100.7';
const FORGED = '203.0.113.9';
let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('HS256', 'docs-adopting');
});

let app: FastifyInstance | undefined;
let server: Server | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  if (server !== undefined) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

async function listenFastify(options: Omit<IpStampPluginOptions, 'keys'>): Promise<string> {
  app = Fastify();
  await app.register(fastifyIpstamp, { keys: { keys: [key.publicJwk] }, ...options });
  app.get('/orders', async (request) => ({
    ip: request.ipStamp?.ip ?? null,
    agreement: request.ipStamp?.agreement ?? null,
    limitKey: rateLimitKeyOf(request),
  }));
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** The load balancer on the way: every request, the echo included, arrives from 127.0.0.1 with the client's address appended. */
const throughBalancer: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set('x-forwarded-for', CLIENT);
  return fetch(input, { ...init, headers });
};

const answerOf = async (response: Response) => [response.status, await response.json()] as const;

describe('docs/adopting.md: the load balancer first', () => {
  it('trustedProxies unset: an echo client is accepted with the balancer address as a match; one that signs its own address is ip-mismatch', async () => {
    const origin = await listenFastify({});
    const echo = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: throughBalancer });
    const literal = createStampedFetch({ key: key.privateJwk, ip: CLIENT, fetch: throughBalancer });
    expect(await answerOf(await echo(`${origin}/orders`))).toEqual([200, { ip: '127.0.0.1', agreement: 'match', limitKey: '127.0.0.1' }]);
    expect(await answerOf(await literal(`${origin}/orders`))).toEqual([403, expect.objectContaining({ reason: 'ip-mismatch' })]);
  });

  it('the balancer in trustedProxies: both clients are accepted with the address the balancer saw', async () => {
    const origin = await listenFastify({ trustedProxies: 'loopback' });
    const echo = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: throughBalancer });
    const literal = createStampedFetch({ key: key.privateJwk, ip: CLIENT, fetch: throughBalancer });
    const accepted = [200, { ip: CLIENT, agreement: 'match', limitKey: CLIENT }];
    expect(await answerOf(await echo(`${origin}/orders`))).toEqual(accepted);
    expect(await answerOf(await literal(`${origin}/orders`))).toEqual(accepted);
  });
});

describe('docs/adopting.md: rate limits keyed with rateLimitKeyOf while stamps are optional', () => {
  it('an unstamped request counts under the address the network shows, never under the X-Forwarded-For entry the client wrote', async () => {
    const direct = await listenFastify({ required: false });
    expect(await answerOf(await fetch(`${direct}/orders`, { headers: { 'x-forwarded-for': FORGED } }))).toEqual([
      200,
      { ip: null, agreement: null, limitKey: '127.0.0.1' },
    ]);
    await app!.close();
    // behind a trusted balancer: the client wrote FORGED, the balancer appended what it saw
    const balanced = await listenFastify({ required: false, trustedProxies: 'loopback' });
    expect(await answerOf(await fetch(`${balanced}/orders`, { headers: { 'x-forwarded-for': `${FORGED}, ${CLIENT}` } }))).toEqual([
      200,
      { ip: null, agreement: null, limitKey: CLIENT },
    ]);
  });
});

describe('docs/adopting.md: counting who stamps with the node and Hono middleware (ipstamp.requests by ipstamp.outcome)', () => {
  const telemetryOf = (sdk: InMemorySdk) => openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  /** ipstamp.requests as `outcome[/reason]` → count. */
  async function requestCounts(sdk: InMemorySdk): Promise<Record<string, number>> {
    const points = await sdk.points(METRIC.requests);
    const label = (a: Record<string, unknown>) =>
      a[ATTR.reason] === undefined ? String(a[ATTR.outcome]) : `${String(a[ATTR.outcome])}/${String(a[ATTR.reason])}`;
    return Object.fromEntries(points.map((p) => [label(p.attributes), p.value]));
  }

  /** Express with the enforced route declared after `app.use(stamp.optional)` (layered) or before it (apart). */
  async function expressApp(sdk: InMemorySdk, mounting: 'layered' | 'apart'): Promise<string> {
    const stamp = nodeIpstamp({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const web = express();
    const answer: express.RequestHandler = (req, res) => void res.send(req.ipStamp === null ? 'unstamped' : 'stamped');
    if (mounting === 'apart') web.get('/login', stamp, answer);
    web.use(stamp.optional);
    if (mounting === 'layered') web.get('/login', stamp, answer);
    web.get('/orders', answer);
    server = trackPeerAddresses(web.listen(0, '127.0.0.1'));
    await new Promise((resolve) => server!.once('listening', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function sendTheFour(origin: string): Promise<string[]> {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const sent = [
      await stampedFetch(`${origin}/orders`),
      await fetch(`${origin}/orders`),
      await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': 'garbage' } }),
      await fetch(`${origin}/login`),
    ];
    return Promise.all(sent.map(async (r) => `${r.status} ${r.status === 200 ? await r.text() : ((await r.json()) as { reason: string }).reason}`));
  }

  for (const [mounting, unstamped] of [
    ['apart', 1],
    // the unstamped request to /login is let through app-wide (unstamped), then refused on the route (missing)
    ['layered', 2],
  ] as const) {
    it(`node (Express), enforced route ${mounting === 'apart' ? 'before' : 'after'} app.use(stamp.optional): the same answers; unstamped counted ${unstamped}×`, async () => {
      const sdk = inMemorySdk();
      const origin = await expressApp(sdk, mounting);
      expect(await sendTheFour(origin)).toEqual(['200 stamped', '200 unstamped', '401 malformed', '401 missing']);
      expect(await requestCounts(sdk)).toEqual({ accepted: 1, unstamped, 'rejected/malformed': 1, 'rejected/missing': 1 });
    });
  }

  for (const [mounting, unstamped] of [
    ['apart', 1],
    // as with Express: let through app-wide (unstamped), then refused on the route (missing)
    ['layered', 2],
  ] as const) {
    it(`Hono, enforced route ${mounting === 'apart' ? 'before' : 'after'} app.use(stamp.optional): the same answers; a stamp accepted once, unstamped counted ${unstamped}×`, async () => {
      const sdk = inMemorySdk();
      const stamp = honoIpstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: '127.0.0.1' }), telemetry: telemetryOf(sdk) });
      const hono = new Hono<{ Variables: IpStampVariables }>();
      const answer = (c: Context<{ Variables: IpStampVariables }>) => c.text(c.get('ipStamp') === null ? 'unstamped' : 'stamped');
      if (mounting === 'apart') hono.get('/login', stamp, answer);
      hono.use(stamp.optional);
      if (mounting === 'layered') hono.get('/login', stamp, answer);
      hono.get('/orders', answer);
      const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
      const stamped = async (url: string) => ({ headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
      const [orders, login] = ['http://app.test/orders', 'http://app.test/login'];
      const sent = [
        await hono.request(orders, await stamped(orders)),
        await hono.request(orders),
        await hono.request(orders, { headers: { 'client-ip-attestation': 'garbage' } }),
        await hono.request(login),
        await hono.request(login, await stamped(login)),
      ];
      const answers = await Promise.all(
        sent.map(async (r) => `${r.status} ${r.status === 200 ? await r.text() : ((await r.json()) as { reason: string }).reason}`),
      );
      expect(answers).toEqual(['200 stamped', '200 unstamped', '401 malformed', '401 missing', '200 stamped']);
      expect(await requestCounts(sdk)).toEqual({ accepted: 2, unstamped, 'rejected/malformed': 1, 'rejected/missing': 1 });
    });
  }

  it('Hono: required: false counts an unstamped request as unstamped and still refuses a bad stamp', async () => {
    const sdk = inMemorySdk();
    const hono = new Hono<{ Variables: IpStampVariables }>();
    hono.use(honoIpstamp({ keys: { keys: [key.publicJwk] }, required: false, connection: () => ({ l3: '127.0.0.1' }), telemetry: telemetryOf(sdk) }));
    hono.get('/orders', (c) => c.text(c.get('ipStamp') === null ? 'unstamped' : 'stamped'));
    const url = 'http://app.test/orders';
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
    const statuses = [
      await hono.request(url, { headers: { 'client-ip-attestation': token } }),
      await hono.request(url),
      await hono.request(url, { headers: { 'client-ip-attestation': 'garbage' } }),
    ].map((r) => r.status);
    expect(statuses).toEqual([200, 200, 401]);
    expect(await requestCounts(sdk)).toEqual({ accepted: 1, unstamped: 1, 'rejected/malformed': 1 });
  });
});

describe('docs/adopting.md: keys from a file and keys registered at login side by side', () => {
  it('(kid) => keySet.lookup(kid) ?? registry.lookup(kid) accepts a service HMAC key and a registered browser key, and nothing else', async () => {
    const browser = await makeKey('ES256', 'ignored');
    const { kid: _kid, alg: _alg, ...browserPublic } = browser.publicJwk;
    const registry = createKeyRegistry();
    const { kid: browserKid } = registry.registerKey(browserPublic);
    const keySet = createKeySet({ keys: [key.publicJwk] });
    const verifier = createVerifier({ keys: (kid) => keySet.lookup(kid) ?? registry.lookup(kid) });
    const stampWith = (privateJwk: Record<string, unknown>) =>
      createStamper({ key: privateJwk as never, ip: '192.0.2.7' }).stamp({ method: 'GET', url: 'https://api.example.com/a' });
    const stranger = await makeKey('ES256', 'stranger');
    const outcomes = [
      await verifier.verify(stampedGet(await stampWith(key.privateJwk))),
      await verifier.verify(stampedGet(await stampWith({ ...browser.privateJwk, kid: browserKid }))),
      await verifier.verify(stampedGet(await stampWith(stranger.privateJwk))),
    ].map(outcomeOf);
    expect(outcomes).toEqual(['accepted', 'accepted', 'unknown-key']);
  });
});
