import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp, type IpStampPluginOptions } from '../../server/fastify/plugin.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { buildApp } from './app.js';

const HOST = 'api.example.com';
let key: TestKeyPair;
let stamper: Stamper;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  key = await makeKey('EdDSA', 'client-ed');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(over: Partial<IpStampPluginOptions> = {}): Promise<FastifyInstance> {
  ({ app } = await buildApp({ keys: { keys: [key.publicJwk] }, ...over }));
  return app;
}

async function get(a: FastifyInstance, path: string, stamp?: string | 'good', headers: Record<string, string> = {}) {
  const token = stamp === 'good' ? await stamper.stamp({ method: 'GET', url: `http://${HOST}${path}` }) : stamp;
  return a.inject({ method: 'GET', url: path, headers: { host: HOST, ...headers, ...(token ? { 'client-ip-attestation': token } : {}) } });
}

describe('route config', () => {
  it('{ required: false }: no stamp → handler runs with ipStamp null; a stamp → verified and decorated', async () => {
    const a = await start();
    const without = await get(a, '/optional');
    expect(without.statusCode).toBe(200);
    expect(without.json().ipStamp).toBeNull();
    const withStamp = await get(a, '/optional', 'good');
    expect(withStamp.json().ipStamp).toMatchObject({ ip: '127.0.0.1', agreement: 'match', kid: 'client-ed' });
  });

  it('{ required: false }: a stamp that is present but bad is still rejected', async () => {
    const a = await start();
    const response = await get(a, '/optional', 'garbage');
    expect(response.statusCode).toBe(401);
    expect(response.json().reason).toBe('malformed');
  });

  it('false: the route skips verification entirely, even a bad stamp passes and ipStamp stays null', async () => {
    const a = await start();
    const response = await get(a, '/open', 'garbage');
    expect(response.statusCode).toBe(200);
    expect(response.json().ipStamp).toBeNull();
  });

  it('required: false (the name ipstamp/node, ipstamp/hono and route config use) makes routes without config optional', async () => {
    const { app: a } = await buildApp({ keys: { keys: [key.publicJwk] }, required: false }, (pre) => {
      pre.get('/strict', { config: { ipstamp: { required: true } } }, async () => 'ok');
    });
    app = a;
    const unstamped = await get(a, '/orders');
    expect(unstamped.statusCode).toBe(200);
    expect(unstamped.json().ipStamp).toBeNull();
    expect((await get(a, '/orders', 'good')).json().ipStamp).toMatchObject({ ip: '127.0.0.1', kid: 'client-ed' });
    expect((await get(a, '/strict')).statusCode).toBe(401);
  });

  it('required and requireStamp given alike mean the same; required: true (the default) still refuses an unstamped request', async () => {
    const { app: both } = await buildApp({ keys: { keys: [key.publicJwk] }, required: false, requireStamp: false });
    app = both;
    expect((await get(both, '/orders')).statusCode).toBe(200);
    await both.close();
    ({ app } = await buildApp({ keys: { keys: [key.publicJwk] }, required: true }));
    expect((await get(app, '/orders')).statusCode).toBe(401);
  });

  it('requireStamp (the deprecated name of required): false makes routes without config optional; config { required: true } still requires', async () => {
    const { app: a } = await buildApp({ keys: { keys: [key.publicJwk] }, requireStamp: false }, (pre) => {
      pre.get('/strict', { config: { ipstamp: { required: true } } }, async () => 'ok');
    });
    app = a;
    // routes added in `before` exist before the plugin: /strict proves route config is read per request
    expect((await get(a, '/orders')).statusCode).toBe(200);
    expect((await get(a, '/strict')).statusCode).toBe(401);
  });

  it('a route with an unreadable config.ipstamp fails at setup with a TypeError', async () => {
    const a = Fastify();
    await a.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    expect(() => a.get('/x', { config: { ipstamp: { required: 'no' } as never } }, async () => 'x')).toThrow(
      /config\.ipstamp of route GET \/x must be false or \{ required: boolean, reportOnly: boolean \} \(each optional\)/,
    );
    // a misspelt key type-checks inline (Fastify infers the route config), so setup is what catches it
    expect(() => a.get('/typo', { config: { ipstamp: { requird: false } } }, async () => 'x')).toThrow(/config\.ipstamp of route GET \/typo/);
    // only false and { required } are settings: true, an empty array or null are mistakes, not the default
    for (const [path, setting] of [
      ['/true', true],
      ['/array', []],
      ['/null', null],
    ] as const) {
      expect(() => a.get(path, { config: { ipstamp: setting as never } }, async () => 'x')).toThrow(`config.ipstamp of route GET ${path} must be false`);
    }
    await a.close();
  });

  it('rewriteUrl: htu is checked against the URL the client sent, not the one Fastify routed', async () => {
    app = Fastify({ rewriteUrl: (raw) => (raw.url?.startsWith('/v1/') ? raw.url.slice(3) : (raw.url ?? '/')) });
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    app.get('/orders', async (request) => ({ ip: request.ipStamp?.ip }));
    const send = async (signedPath: string) =>
      app!.inject({
        method: 'GET',
        url: '/v1/orders',
        headers: { host: HOST, 'client-ip-attestation': await stamper.stamp({ method: 'GET', url: `http://${HOST}${signedPath}` }) },
      });
    const asSent = await send('/v1/orders');
    expect([asSent.statusCode, asSent.json()]).toEqual([200, { ip: '127.0.0.1' }]);
    const asRouted = await send('/orders');
    expect([asRouted.statusCode, asRouted.json().reason]).toEqual([401, 'binding-mismatch']);
  });
});

describe('echo route (PROTOCOL §6)', () => {
  it('answers the observed address with no-store and never asks for a stamp', async () => {
    const response = await get(await start(), '/.well-known/ipstamp');
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toStrictEqual({ ip: '127.0.0.1', time: expect.any(Number) });
  });

  it("answers from a trusted proxy's forwarding header, as step 12 would compare", async () => {
    const a = await start({ trustedProxies: ['loopback'] });
    const response = await get(a, '/.well-known/ipstamp', undefined, { 'x-forwarded-for': '198.51.100.4' });
    expect(response.json()).toStrictEqual({ ip: '198.51.100.4', time: expect.any(Number) });
  });

  it('ignores a forwarding header from an untrusted peer', async () => {
    const response = await get(await start(), '/.well-known/ipstamp', undefined, { 'x-forwarded-for': '198.51.100.4' });
    expect(response.json()).toStrictEqual({ ip: '127.0.0.1', time: expect.any(Number) });
  });

  it('falls back to the TCP peer when observed is undefined (every hop trusted)', async () => {
    const response = await get(await start({ trustedProxies: ['loopback'] }), '/.well-known/ipstamp');
    expect(response.json()).toStrictEqual({ ip: '127.0.0.1', time: expect.any(Number) });
  });

  it('a peer unknown (a connection reset before it was read) gets 403 ip-unverifiable, never an address-less 200', async () => {
    ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (pre) => {
      // what such a connection leaves the server: no peer address at all
      pre.addHook('onRequest', (request, _reply, done) => {
        (request.raw.socket as { remoteAddress?: string }).remoteAddress = undefined;
        done();
      });
    }));
    const response = await get(app, '/.well-known/ipstamp');
    expect([response.statusCode, response.headers['content-type'], response.json().reason]).toEqual([403, 'application/problem+json', 'ip-unverifiable']);
  });

  it('echo: false removes it (then it is just another route that needs a stamp)', async () => {
    const a = await start({ echo: false });
    expect((await get(a, '/.well-known/ipstamp')).statusCode).toBe(401);
    expect((await get(a, '/.well-known/ipstamp', 'good')).statusCode).toBe(404);
  });
});

describe('metrics', () => {
  it('counts accepted by agreement and rejected by reason, readable from fastify.ipstamp.metrics()', async () => {
    const a = await start({ onMismatch: 'flag' });
    await get(a, '/orders', 'good');
    await get(a, '/orders', 'good');
    await get(a, '/orders');
    await get(a, '/orders', 'garbage');
    await get(a, '/optional');
    const flagged = await createStamper({ key: key.privateJwk, ip: '203.0.113.9' }).stamp({ method: 'GET', url: `http://${HOST}/orders` });
    await get(a, '/orders', flagged);
    const counters = a.ipstamp.metrics();
    expect(counters.accepted).toEqual({ match: 2, mismatch: 1, unverifiable: 0 });
    expect(counters.rejected).toMatchObject({ missing: 1, malformed: 1, replay: 0 });
    expect(counters.unstamped).toBe(1);
    expect(counters.replayUnchecked).toBe(0);
  });

  it('/metrics serves Prometheus text when metrics: true, with every series present from the start', async () => {
    const a = await start({ metrics: true });
    await get(a, '/orders');
    await get(a, '/orders', 'good');
    const response = await get(a, '/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    // the exposition format ends every line, the last one too, with a line feed
    expect(response.body.endsWith('\n')).toBe(true);
    expect(response.body).toBe(a.ipstamp.prometheus());
    expect(response.body).toContain('# TYPE ipstamp_rejected_total counter\n');
    expect(response.body).toContain('ipstamp_rejected_total{reason="missing"} 1\n');
    expect(response.body).toContain('ipstamp_rejected_total{reason="store-unavailable"} 0\n');
    expect(response.body).toContain('ipstamp_accepted_total{agreement="match"} 1\n');
    expect(response.body).toContain('ipstamp_unstamped_total 0\n');
    for (const line of response.body.trimEnd().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) ipstamp_[a-z_]+ .+|ipstamp_[a-z_]+(\{[a-z]+="[a-z-]+"\})? \d+)$/);
    }
  });

  it('/metrics is absent by default', async () => {
    expect((await get(await start(), '/metrics', 'good')).statusCode).toBe(404);
  });
});
