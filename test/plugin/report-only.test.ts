import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { generateStampKey } from '../../client/browser-key.js';
import { ipstamp, type IpStampPluginOptions, type IpStampRouteConfig } from '../../server/fastify/plugin.js';
import { exportJWK, generateKeyPair } from 'jose';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { reportedSequence } from '../support/report-only.js';
import { captureLog, type CapturedLog } from './app.js';

/**
 * `reportOnly`: the plugin verifies every stamp as always and counts every refusal, but lets
 * the refused request through as an unstamped one, with the reason in `request.ipStampRefusal`.
 */
const NOW = 1_764_000_000_000;
const HOST = 'api.example.com';
const PEER = '127.0.0.1'; // fastify.inject's socket peer

let key: TestKeyPair;
let forger: TestKeyPair; // another key under the same kid: its stamps are bad-signature
beforeAll(async () => {
  key = await makeKey('ES256', 'report-es');
  forger = await makeKey('ES256', 'report-es');
});

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** An app whose routes answer what the handler saw: `/orders` (plugin default) and `/route` (with `route` as its config). */
async function start(
  options: Partial<IpStampPluginOptions>,
  route?: IpStampRouteConfig,
): Promise<{ app: FastifyInstance; log: CapturedLog; store: MapReplayStore }> {
  const { stream, log } = captureLog();
  const store = new MapReplayStore();
  const a = Fastify({ logger: { level: 'info', stream } });
  await a.register(ipstamp, { keys: { keys: [key.publicJwk] }, now: () => NOW, replayStore: store, ...options });
  const seen = (request: { ipStamp: unknown; ipStampRefusal: unknown }) => ({ ipStamp: request.ipStamp, refusal: request.ipStampRefusal });
  a.get('/orders', async (request) => seen(request));
  a.get('/route', { config: { ipstamp: route } }, async (request) => seen(request));
  await a.ready();
  app = a;
  return { app: a, log, store };
}

const stampFor = (signer: TestKeyPair, ip = PEER, path = '/orders') =>
  createStamper({ key: signer.privateJwk, ip, now: () => NOW }).stamp({ method: 'GET', url: `http://${HOST}${path}` });

async function get(a: FastifyInstance, token: string | undefined, path = '/orders') {
  const headers: Record<string, string> = { host: HOST };
  if (token !== undefined) headers['client-ip-attestation'] = token;
  const response = await a.inject({ method: 'GET', url: path, headers });
  return { status: response.statusCode, body: response.json() as { ipStamp: { ip: string } | null; refusal: string | null; reason?: string } };
}

describe('reportOnly: true on the plugin', () => {
  it('a forged, a replayed, a mismatching and a missing stamp reach the handler unstamped, each with its reason; a good one is accepted', async () => {
    const { app: a, store } = await start({ reportOnly: true });
    const good = await stampFor(key);
    const outcomes = [
      await get(a, good),
      await get(a, await stampFor(forger)),
      await get(a, good),
      await get(a, await stampFor(key, '203.0.113.9')),
      await get(a, undefined),
    ];
    expect(outcomes.map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);
    expect(outcomes.map((o) => [o.body.ipStamp?.ip ?? null, o.body.refusal])).toEqual(reportedSequence(PEER).seen);
    // the replay was not stored again; the accepted and the mismatching stamp each consumed their jti
    expect(store.seen.size).toBe(2);
    expect(a.ipstamp.metrics()).toMatchObject({
      accepted: { match: 1, mismatch: 0, unverifiable: 0 },
      unstamped: 0,
      rejected: { 'bad-signature': 1, replay: 1, 'ip-mismatch': 1, missing: 1 },
    });
  });

  it('logs each refusal once, at info, marked reportOnly, and says the mode once at registration', async () => {
    const { app: a, log } = await start({ reportOnly: true });
    await get(a, undefined);
    await get(a, await stampFor(key, '203.0.113.9'));
    await a.close();
    const rejections = log.lines
      .filter((l) => l.msg === 'ipstamp: stamp rejected')
      .map((l) => [l.level, (l.ipstamp as Record<string, unknown>).reason, (l.ipstamp as Record<string, unknown>).reportOnly]);
    expect(rejections).toEqual([
      [30, 'missing', true],
      [30, 'ip-mismatch', true],
    ]);
    const warnings = log.lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => [l.msg, l.ipstamp])).toEqual([
      [
        "ipstamp: LOOSENED policies: reportOnly is 'true': every refused stamp is let through as unstamped (ipStamp null, the reason in ipStampRefusal)",
        { loosened: ['reportOnly: true'] },
      ],
    ]);
  });

  it('follows the other loosened policies in the one warning, whose text it leaves alone', async () => {
    const { app: a, log } = await start({ reportOnly: true, onMismatch: 'flag' });
    await a.close();
    const [warning, ...more] = log.lines.filter((l) => l.level === 40);
    expect(more).toEqual([]);
    expect(warning?.ipstamp).toEqual({ loosened: ['onMismatch: flag', 'reportOnly: true'] });
    expect(String(warning?.msg)).toMatch(
      /^ipstamp: LOOSENED policies: onMismatch is 'flag': a stamp whose ip the network contradicts is ACCEPTED \(agreement "mismatch"\); reportOnly is 'true': /,
    );
  });

  it('route config reportOnly: false enforces on that route: a mismatching stamp is refused 403', async () => {
    const { app: a } = await start({ reportOnly: true }, { reportOnly: false });
    const refused = await get(a, await stampFor(key, '203.0.113.9', '/route'), '/route');
    expect([refused.status, refused.body.reason]).toEqual([403, 'ip-mismatch']);
    expect((await get(a, undefined, '/route')).status).toBe(401);
    expect((await get(a, undefined)).body.refusal).toBe('missing');
  });

  it('does not touch the ticket route: a refused proof is refused, and no ticket is issued', async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    const { app: a } = await start({ reportOnly: true, now: Date.now, origins: ['http://edge.example'], issuer: { key: issuerKey } });
    const client = await generateStampKey({ alg: 'ES256' });
    const proof = await createTicketRequestProof(client, 'http://edge.example/.well-known/ipstamp/ticket');
    const ask = () => a.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { 'client-ip-attestation': proof } });
    expect((await ask()).statusCode).toBe(200);
    const again = await ask();
    expect([again.statusCode, again.json().reason]).toEqual([401, 'replay']);
    expect(again.json()).not.toHaveProperty('ticket');
  });
});

/** The warning line, and its `ipstamp` field, for a route made report-only under a plugin that is not. */
const routeWarning = (route: string) => [
  `ipstamp: LOOSENED policies: reportOnly is 'true': every refused stamp is let through as unstamped (ipStamp null, the reason in ipStampRefusal) (route ${route})`,
  { loosened: ['reportOnly: true'], route },
];

describe('reportOnly: false (the default) on the plugin', () => {
  it('route config reportOnly: true lets that route report: its refusals pass, others are answered; the route is warned of at setup', async () => {
    const { app: a, log } = await start({}, { required: true, reportOnly: true });
    const reported = await get(a, await stampFor(key, '203.0.113.9', '/route'), '/route');
    expect([reported.status, reported.body.ipStamp, reported.body.refusal]).toEqual([200, null, 'ip-mismatch']);
    expect((await get(a, undefined, '/route')).body.refusal).toBe('missing');
    expect((await get(a, await stampFor(key, '203.0.113.9'))).status).toBe(403);
    await a.close();
    // one line for the GET the app declared, none for the HEAD route Fastify adds beside it
    expect(log.lines.filter((l) => l.level === 40).map((l) => [l.msg, l.ipstamp])).toEqual([routeWarning('GET /route')]);
  });

  it('warns of a HEAD route the app declares itself, and of a GET with onSend hooks once', async () => {
    const { stream, log } = captureLog();
    const a = Fastify({ logger: { level: 'info', stream } });
    app = a;
    await a.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    const config = { ipstamp: { reportOnly: true } };
    // declared before its GET, so Fastify adds no HEAD of its own there
    a.head('/both', { config }, async () => '');
    a.get('/both', { config }, async () => 'both');
    // Fastify's HEAD copy of this one carries the app's onSend hook beside its own
    a.get('/hooked', { config, onSend: async (_request, _reply, payload) => payload }, async () => 'hooked');
    // the app's own HEAD route with onSend hooks of its own: not Fastify's copy, warned of
    a.head('/own-hooks', { config, onSend: [async (_request, _reply, payload) => payload] }, async () => '');
    await a.ready();
    expect((await a.inject({ method: 'HEAD', url: '/hooked' })).statusCode).toBe(200);
    expect(log.lines.filter((l) => l.level === 40).map((l) => [l.msg, l.ipstamp])).toEqual([
      routeWarning('HEAD /both'),
      routeWarning('GET /both'),
      routeWarning('GET /hooked'),
      routeWarning('HEAD /own-hooks'),
    ]);
  });

  it('warns of nothing, and an accepted or unstamped request has ipStampRefusal null', async () => {
    const { app: a, log } = await start({ required: false }, { reportOnly: false });
    expect((await get(a, await stampFor(key))).body).toEqual({ ipStamp: expect.objectContaining({ ip: PEER }), refusal: null });
    expect((await get(a, undefined)).body).toEqual({ ipStamp: null, refusal: null });
    await a.close();
    expect(log.lines.filter((l) => l.level === 40)).toEqual([]);
  });

  it('reportOnly must be a boolean, on the plugin and in a route config', async () => {
    await expect(start({ reportOnly: 'yes' as never })).rejects.toThrow(new TypeError('reportOnly must be a boolean'));
    app = undefined;
    const a = Fastify();
    await a.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    expect(() => a.get('/x', { config: { ipstamp: { reportOnly: 1 } as never } }, async () => 'x')).toThrow(/config\.ipstamp of route GET \/x must be false/);
    await a.close();
  });
});
