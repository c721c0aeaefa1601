import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import fc from 'fast-check';
import { Hono, type Context } from 'hono';
import { Agent, fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as webIpstamp } from '../../server/hono/web.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { makeKey } from '../support/keys.js';

/**
 * `stamp.handler(fn)`: the middleware's checks in front of one route's handler, as the route's
 * only handler, so that Hono answers it on its one-handler fast path (bench/README.md, "HTTP
 * cost"). It must answer every request exactly as the middleware in front of the same handler
 * does; and, where nothing has to wait, answer with the Response itself, not a promise of it.
 */
const key = await makeKey('HS256', 'hono-handler');
const PEER = '127.0.0.2';
const ORIGIN = 'http://app.test';
const NOW = 1_764_000_000_000;
const LIMIT = 64;
const options = { keys: { keys: [key.publicJwk] }, now: () => NOW, bodyLimit: LIMIT, connection: () => ({ l3: PEER }) };

type App = Hono<{ Variables: IpStampVariables }>;
const answer = async (c: Context<{ Variables: IpStampVariables }>) =>
  c.json({ verdict: c.get('ipStamp'), text: c.req.method === 'POST' ? await c.req.text() : null });

function middlewareApp(): App {
  const app: App = new Hono<{ Variables: IpStampVariables }>();
  app.use(ipstamp(options));
  app.all('/orders', answer);
  app.all('/.well-known/ipstamp', answer);
  return app;
}

function handlerApp(): App {
  const stamp = ipstamp(options);
  const app: App = new Hono<{ Variables: IpStampVariables }>();
  app.all('/orders', stamp.handler(answer));
  // mounted on the echo path, the handler form answers it as the middleware does
  app.all('/.well-known/ipstamp', stamp.handler(answer));
  return app;
}

/** What happened to a request, read from its answer: the refusal's reason, or which way it went through. */
function outcomeOf(status: number, body: Record<string, unknown>): string {
  if (status !== 200) return String(body.reason);
  if (!('verdict' in body)) return 'echo';
  return body.verdict === null ? 'passed' : 'accepted';
}

describe('the handler form of the Hono middleware', () => {
  it('answers every request as the middleware in front of the same handler: status, type, body, verdict', async () => {
    const a = middlewareApp();
    const b = handlerApp();
    const plain = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const digest = createStamper({ key: key.privateJwk, ip: PEER, bodyDigest: true, now: () => NOW });
    const elsewhere = createStamper({ key: key.privateJwk, ip: '198.51.100.7', now: () => NOW });
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS'),
        fc.constantFrom('/orders', '/.well-known/ipstamp'),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        fc.constantFrom('none', 'plain', 'digest', 'digest-of-other', 'other-address', 'garbage', 'preflight'),
        fc.boolean(),
        async (method, path, body, kind, twice) => {
          const sendsBody = body !== undefined && method !== 'GET';
          const bytes = sendsBody ? new TextEncoder().encode(body) : undefined;
          const url = `${ORIGIN}${path}`;
          const headers: Record<string, string> = {};
          if (kind === 'plain') headers['client-ip-attestation'] = await plain.stamp({ method, url });
          if (kind === 'digest') headers['client-ip-attestation'] = await digest.stamp({ method, url, body: bytes ?? new Uint8Array(0) });
          if (kind === 'digest-of-other') headers['client-ip-attestation'] = await digest.stamp({ method, url, body: 'other' });
          if (kind === 'other-address') headers['client-ip-attestation'] = await elsewhere.stamp({ method, url });
          if (kind === 'garbage') headers['client-ip-attestation'] = 'a.b.c';
          if (kind === 'preflight') Object.assign(headers, { origin: 'http://page.test', 'access-control-request-method': 'POST' });
          if (bytes !== undefined) headers['content-length'] = String(bytes.length);
          const init = { method, headers, body: sendsBody ? body : undefined };
          // each app has its own replay store: a stamp sent twice is a replay in both
          for (let i = 0; i < (twice ? 2 : 1); i++) {
            const [x, y] = [await a.request(url, init), await b.request(url, init)];
            expect(y.status).toBe(x.status);
            expect(y.headers.get('content-type')).toBe(x.headers.get('content-type'));
            const text = await x.text();
            expect(await y.text()).toBe(text);
            outcomes.add(outcomeOf(x.status, JSON.parse(text) as Record<string, unknown>));
          }
        },
      ),
      { numRuns: 250 },
    );
    // the property saw every way a request goes: verified, let through (a preflight), echoed, refused
    expect([...outcomes].sort()).toEqual(['accepted', 'binding-mismatch', 'echo', 'ip-mismatch', 'malformed', 'missing', 'passed', 'replay']);
  });

  it('answers an accepted GET with the Response itself, where the middleware form answers a promise', async () => {
    const url = `${ORIGIN}/orders`;
    const stamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const stamp = ipstamp(options);
    const lone = new Hono<{ Variables: IpStampVariables }>().get(
      '/orders',
      stamp.handler((c) => c.json({ ip: c.get('ipStamp')?.ip })),
    );
    const accepted = lone.fetch(new Request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } }));
    expect(accepted).toBeInstanceOf(Response);
    expect(await (accepted as Response).json()).toEqual({ ip: PEER });

    const behind = new Hono<{ Variables: IpStampVariables }>().use(ipstamp(options)).get('/orders', (c) => c.json({ ip: c.get('ipStamp')?.ip }));
    const viaMiddleware = behind.fetch(new Request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } }));
    expect(viaMiddleware).toBeInstanceOf(Promise);
    expect(await (await viaMiddleware).json()).toEqual({ ip: PEER });

    // a refusal is still a refusal, and the handler never ran
    let ran = false;
    const guarded = new Hono<{ Variables: IpStampVariables }>().get(
      '/orders',
      stamp.handler((c) => {
        ran = true;
        return c.text('handler');
      }),
    );
    const refused = await guarded.request(url);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: 'missing' });
    expect(ran).toBe(false);
  });

  it('passes a throw from the handler or the connection to app.onError', async () => {
    const url = `${ORIGIN}/orders`;
    const stamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const throwing = ipstamp({
      ...options,
      connection: () => {
        throw new Error('no socket');
      },
    });
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.get(
      '/orders',
      throwing.handler((c) => c.text('unreachable')),
    );
    app.get(
      '/boom',
      ipstamp(options).handler(() => {
        throw new Error('handler failed');
      }),
    );
    app.onError((error, c) => c.text(`onError: ${error.message}`, 500));
    const first = await app.request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
    expect([first.status, await first.text()]).toEqual([500, 'onError: no socket']);
    const boomUrl = `${ORIGIN}/boom`;
    const second = await app.request(boomUrl, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url: boomUrl }) } });
    expect([second.status, await second.text()]).toEqual([500, 'onError: handler failed']);
  });

  it("refuses to check a stamp twice: behind another ipstamp() call's middleware, it fails loudly instead of answering replay", async () => {
    // behind its own middleware (`stamp.optional` app-wide) it checks a stamp once: optional-twin.test.ts
    const stamp = ipstamp(options);
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(ipstamp(options));
    app.get(
      '/orders',
      stamp.handler((c) => c.text('handler')),
    );
    app.onError((error, c) => c.text(error.message, 500));
    const url = `${ORIGIN}/orders`;
    const stamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const response = await app.request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
    expect(response.status).toBe(500);
    expect(await response.text()).toMatch(/^ipstamp: stamp\.handler\(fn\) on a route an ipstamp middleware already covers/);
  });

  it("gives the handler the app's own Env when named, beside ipStamp", async () => {
    type AppEnv = { Variables: IpStampVariables; Bindings: { TOKEN: string } };
    const stamp = ipstamp(options);
    const app = new Hono<AppEnv>().get(
      '/orders/:id',
      stamp.handler<AppEnv, '/orders/:id'>((c) => c.json({ ip: c.get('ipStamp')?.ip, id: c.req.param('id'), token: c.env.TOKEN })),
    );
    const url = `${ORIGIN}/orders/7`;
    const stamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const response = await app.request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } }, { TOKEN: 't' });
    expect([response.status, await response.json()]).toEqual([200, { ip: PEER, id: '7', token: 't' }]);
  });

  it('on @hono/node-server, reads the peer from the socket as the middleware does', async () => {
    const { connection: _connection, ...nodeOptions } = options;
    const stamp = ipstamp({ ...nodeOptions, now: Date.now });
    const app = new Hono<{ Variables: IpStampVariables }>().get(
      '/orders',
      stamp.handler((c) => c.json(c.get('ipStamp'))),
    );
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    trackPeerAddresses(server);
    await new Promise((done) => server.once('listening', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.2' });
    const [near, far] = [new Agent({ localAddress: '127.0.0.2' }), new Agent({ localAddress: '127.0.0.3' })];
    try {
      const accepted = await undiciFetch(url, { dispatcher: near, headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
      expect([accepted.status, await accepted.json()]).toEqual([200, expect.objectContaining({ ip: '127.0.0.2', agreement: 'match' })]);
      // the same claim from another host: the socket's peer disagrees
      const refused = await undiciFetch(url, { dispatcher: far, headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
      expect([refused.status, ((await refused.json()) as { reason: string }).reason]).toEqual([403, 'ip-mismatch']);
    } finally {
      await Promise.all([near.close(), far.close()]);
      await new Promise((done) => server.close(done));
    }
  });

  it('is there on ipstamp/hono/web too, with the same verdict and refusals', async () => {
    const stamp = webIpstamp(options);
    const app = new Hono<{ Variables: IpStampVariables }>().get(
      '/orders',
      stamp.handler((c) => c.json({ ip: c.get('ipStamp')?.ip })),
    );
    const url = `${ORIGIN}/orders`;
    const stamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const accepted = await app.request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
    expect([accepted.status, await accepted.json()]).toEqual([200, { ip: PEER }]);
    const refused = await app.request(url, { headers: { 'client-ip-attestation': 'a.b.c' } });
    expect([refused.status, (await refused.json()).reason]).toEqual([401, 'malformed']);
  });
});
