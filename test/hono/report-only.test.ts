import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { generateStampKey } from '../../client/browser-key.js';
import { createStamper } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as webIpstamp } from '../../server/hono/web.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { reportedSequence } from '../support/report-only.js';
import { inMemorySdk } from '../support/otel.js';

/**
 * `reportOnly: true` in both Hono entries: every refusal is counted, and the request goes on
 * unstamped, the reason in `c.get('ipStampRefusal')`.
 */
const { attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
const key = await makeKey('ES256', 'hono-report');
const forger = await makeKey('ES256', 'hono-report');
const PEER = '127.0.0.2';
const ORIGIN = 'http://app.test';
const connection = () => ({ l3: PEER });

const warnings: unknown[][] = [];
beforeEach(() => {
  warnings.length = 0;
  vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void warnings.push(args));
});
afterEach(() => {
  vi.restoreAllMocks();
});

const REPORT_ONLY_WARNING = [
  "ipstamp: LOOSENED policies: reportOnly is 'true': every refused stamp is let through as unstamped (ipStamp null, the reason in ipStampRefusal)",
  { code: 'IPSTAMP_LOOSENED_POLICIES' },
];

type App = Hono<{ Variables: IpStampVariables }>;
const seen = (c: Context<{ Variables: IpStampVariables }>) => ({
  ip: c.get('ipStamp')?.ip ?? null,
  refusal: c.get('ipStampRefusal'),
});
const stampFor = (signer: typeof key, url: string, ip = PEER) => createStamper({ key: signer.privateJwk, ip }).stamp({ method: 'GET', url });
const headersOf = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { 'client-ip-attestation': token });

const variants = [
  ['ipstamp/hono', ipstamp],
  ['ipstamp/hono/web', webIpstamp],
] as const;

describe.each(variants)('%s with reportOnly: true (app.request)', (_name, make) => {
  it('a forged, a replayed, a mismatching and a missing stamp reach the handler unstamped, each with its reason; a good one is accepted', async () => {
    const store = new MapReplayStore();
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(make({ keys: { keys: [key.publicJwk] }, reportOnly: true, replayStore: store, connection }));
    app.get('/orders', (c) => c.json(seen(c)));
    const url = `${ORIGIN}/orders`;
    const get = async (token: string | undefined) => {
      const response = await app.request(url, { headers: headersOf(token) });
      return [response.status, await response.json()];
    };
    const good = await stampFor(key, url);
    expect([
      await get(good),
      await get(await stampFor(forger, url)),
      await get(good),
      await get(await stampFor(key, url, '203.0.113.9')),
      await get(undefined),
    ]).toEqual([
      [200, { ip: PEER, refusal: null }],
      [200, { ip: null, refusal: 'bad-signature' }],
      [200, { ip: null, refusal: 'replay' }],
      [200, { ip: null, refusal: 'ip-mismatch' }],
      [200, { ip: null, refusal: 'missing' }],
    ]);
    // the replay was not stored again; the accepted and the mismatching stamp each consumed their jti
    expect(store.seen.size).toBe(2);
    expect(warnings).toEqual([REPORT_ONLY_WARNING]);
  });

  it('the echo route is answered as always', async () => {
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(make({ keys: { keys: [key.publicJwk] }, reportOnly: true, connection }));
    const echo = await app.request(`${ORIGIN}/.well-known/ipstamp`);
    expect([echo.status, ((await echo.json()) as { ip: string }).ip]).toEqual([200, PEER]);
  });

  it('behind it, a strict middleware sharing its store answers its refusal, not a replay; a report-only one passes it on', async () => {
    for (const [behind, expected] of [
      [false, [403, 'ip-mismatch']],
      [true, [200, 'ip-mismatch']],
    ] as const) {
      const replayStore = new MapReplayStore();
      const app: App = new Hono<{ Variables: IpStampVariables }>();
      app.use(make({ keys: { keys: [key.publicJwk] }, required: false, reportOnly: true, replayStore, connection }));
      app.get('/login', make({ keys: { keys: [key.publicJwk] }, reportOnly: behind, replayStore, connection }), (c) =>
        c.json({ reason: c.get('ipStampRefusal') }),
      );
      const url = `${ORIGIN}/login`;
      const response = await app.request(url, { headers: headersOf(await stampFor(key, url, '203.0.113.9')) });
      expect([response.status, ((await response.json()) as { reason: string }).reason]).toEqual(expected);
    }
  });

  it('behind it, a strict middleware sharing its store checks a stamp refused before its jti went in: a key only it knows is accepted', async () => {
    const other = await makeKey('ES256', 'hono-report-other');
    const replayStore = new MapReplayStore();
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(make({ keys: { keys: [other.publicJwk] }, required: false, reportOnly: true, replayStore, connection }));
    app.get('/login', make({ keys: { keys: [key.publicJwk] }, replayStore, connection }), (c) => c.json(seen(c)));
    const url = `${ORIGIN}/login`;
    const response = await app.request(url, { headers: headersOf(await stampFor(key, url)) });
    expect([response.status, await response.json()]).toEqual([200, { ip: PEER, refusal: null }]);
  });

  it('one call: stamp.optional app-wide and stamp on a route pass a refusal through once, under its first reason', async () => {
    const replayStore = new MapReplayStore();
    const stamp = make({ keys: { keys: [key.publicJwk] }, reportOnly: true, replayStore, connection });
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(stamp.optional);
    app.get('/login', stamp, (c) => c.json(seen(c)));
    const url = `${ORIGIN}/login`;
    const lying = await app.request(url, { headers: headersOf(await stampFor(key, url, '203.0.113.9')) });
    // checked once: a second check of the same stamp would have reported it as a replay
    expect([lying.status, await lying.json()]).toEqual([200, { ip: null, refusal: 'ip-mismatch' }]);
    expect(replayStore.seen.size).toBe(1);
    const stampless = await app.request(url);
    expect([stampless.status, await stampless.json()]).toEqual([200, { ip: null, refusal: 'missing' }]);
    const good = await app.request(url, { headers: headersOf(await stampFor(key, url)) });
    expect([good.status, await good.json()]).toEqual([200, { ip: PEER, refusal: null }]);
    expect(replayStore.seen.size).toBe(2);
  });

  it('one call: stamp app-wide and stamp.optional on a route keep a stampless request refused `missing`, as middleware and as handler', async () => {
    // checked again as optional, the request would read as unstamped with no refusal
    const stamp = make({ keys: { keys: [key.publicJwk] }, reportOnly: true, connection });
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(stamp);
    app.get('/middleware', stamp.optional, (c) => c.json(seen(c)));
    app.get(
      '/handler',
      stamp.optional.handler((c) => c.json(seen(c))),
    );
    for (const path of ['/middleware', '/handler']) {
      const response = await app.request(`${ORIGIN}${path}`);
      expect([path, response.status, await response.json()]).toEqual([path, 200, { ip: null, refusal: 'missing' }]);
    }
  });

  it('a stampless request a report-only middleware refused `missing` is checked again behind it, as that middleware requires', async () => {
    // the handler reads the outcome of the last check: the one behind decides it
    for (const [required, expected] of [
      [false, [200, null]],
      [true, [401, 'missing']],
    ] as const) {
      const replayStore = new MapReplayStore();
      const app: App = new Hono<{ Variables: IpStampVariables }>();
      app.use(make({ keys: { keys: [key.publicJwk] }, reportOnly: true, replayStore, connection }));
      app.get('/orders', make({ keys: { keys: [key.publicJwk] }, required, replayStore, connection }), (c) =>
        c.json({ reason: c.get('ipStampRefusal') ?? null }),
      );
      const response = await app.request(`${ORIGIN}/orders`);
      const body = (await response.json()) as { reason: string | null };
      expect([response.status, body.reason]).toEqual(expected);
    }
  });

  it('without the option: no warning, refusals answered, ipStampRefusal never set', async () => {
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(make({ keys: { keys: [key.publicJwk] }, required: false, reportOnly: false, connection }));
    app.get('/orders', (c) => c.json({ ...seen(c), has: c.get('ipStampRefusal') !== undefined }));
    const url = `${ORIGIN}/orders`;
    const lying = await app.request(url, { headers: headersOf(await stampFor(key, url, '203.0.113.9')) });
    expect(lying.status).toBe(403);
    expect(await (await app.request(url)).json()).toEqual({ ip: null, has: false });
    expect(warnings).toEqual([]);
  });

  it('reportOnly must be a boolean', () => {
    expect(() => make({ keys: { keys: [key.publicJwk] }, reportOnly: 'yes' as never, connection })).toThrow(new TypeError('reportOnly must be a boolean'));
  });
});

describe('ipstamp/hono with reportOnly: true, as a ticket issuer', () => {
  it('does not touch the ticket route, through stamp or stamp.optional: a replayed proof is refused, and no ticket is issued', async () => {
    const issuer = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(issuer.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, reportOnly: true, issuer: { key: issuerKey }, connection });
    const url = `${ORIGIN}/.well-known/ipstamp/ticket`;
    for (const member of [stamp, stamp.optional]) {
      const app: App = new Hono<{ Variables: IpStampVariables }>();
      app.use(member);
      const proof = await createTicketRequestProof(await generateStampKey({ alg: 'ES256' }), url);
      const ask = async () => {
        const response = await app.request(url, { method: 'POST', headers: { 'client-ip-attestation': proof } });
        return [response.status, (await response.json()) as { reason?: string; ticket?: string }] as const;
      };
      expect((await ask())[0]).toBe(200);
      const [status, again] = await ask();
      expect([status, again.reason, again.ticket]).toEqual([401, 'replay', undefined]);
    }
  });
});

describe('ipstamp/hono with reportOnly: true and telemetry', () => {
  it('one call: stamp.optional app-wide and stamp on a route count a refusal once, one before the replay store (bad-signature) too', async () => {
    const sdk = inMemorySdk();
    const stamp = ipstamp({
      keys: { keys: [key.publicJwk] },
      reportOnly: true,
      connection,
      telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }),
    });
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(stamp.optional);
    app.get('/middleware', stamp, (c) => c.json(seen(c)));
    app.get(
      '/handler',
      stamp.handler((c) => c.json(seen(c))),
    );
    try {
      for (const path of ['/middleware', '/handler']) {
        const url = `${ORIGIN}${path}`;
        const forged = await app.request(url, { headers: headersOf(await stampFor(forger, url)) });
        expect([path, await forged.json()]).toEqual([path, { ip: null, refusal: 'bad-signature' }]);
        const lying = await app.request(url, { headers: headersOf(await stampFor(key, url, '203.0.113.9')) });
        expect([path, await lying.json()]).toEqual([path, { ip: null, refusal: 'ip-mismatch' }]);
      }
      // two requests of each (one per route): a refusal checked again on its route would count twice
      const requests = await sdk.points(METRIC.requests);
      expect(requests.map((p) => [p.attributes[ATTR.outcome], p.attributes[ATTR.reason] ?? null, p.value]).sort()).toEqual([
        ['rejected', 'bad-signature', 2],
        ['rejected', 'ip-mismatch', 2],
      ]);
    } finally {
      await sdk.shutdown();
    }
  });
});

describe('ipstamp/hono with reportOnly: true on @hono/node-server', () => {
  it('lets every refusal through and counts it under its reason in ipstamp.requests', async () => {
    const sdk = inMemorySdk();
    const app: App = new Hono<{ Variables: IpStampVariables }>();
    app.use(
      ipstamp({
        keys: { keys: [key.publicJwk] },
        reportOnly: true,
        telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }),
      }),
    );
    app.get('/orders', (c) => c.json(seen(c)));
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    trackPeerAddresses(server);
    await new Promise<void>((done) => server.once('listening', done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
      const get = async (token: string | undefined) => (await fetch(url, { headers: headersOf(token) })).json();
      const good = await stampFor(key, url, '127.0.0.1');
      expect([
        await get(good),
        await get(await stampFor(forger, url, '127.0.0.1')),
        await get(good),
        await get(await stampFor(key, url, '203.0.113.9')),
        await get(undefined),
      ]).toEqual(reportedSequence('127.0.0.1').seen.map(([ip, refusal]) => ({ ip, refusal })));
      const requests = await sdk.points(METRIC.requests);
      expect(requests.map((p) => [p.attributes[ATTR.outcome], p.attributes[ATTR.reason] ?? null, p.value]).sort()).toEqual(
        reportedSequence('127.0.0.1').requestPoints,
      );
    } finally {
      (server as import('node:http').Server).closeAllConnections();
      await new Promise((done) => server.close(done));
      await sdk.shutdown();
    }
  });
});
