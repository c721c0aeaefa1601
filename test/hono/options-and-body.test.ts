import { Hono } from 'hono';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as webIpstamp } from '../../server/hono/web.js';
import type { Verdict } from '../../server/verify/types.js';
import { makeKey } from '../support/keys.js';

/**
 * In-process checks through `app.request`, the peer given by the `connection` option (the
 * seam a Bun/Deno/workerd preset plugs into). The process tests in middleware.test.ts cover
 * the Node socket path.
 */
const key = await makeKey('HS256', 'hono-hs');
const PEER = '127.0.0.2';
const ORIGIN = 'http://app.test';

function appWith(options: Partial<Parameters<typeof ipstamp>[0]> = {}) {
  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(ipstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: PEER }), ...options }));
  app.all('/orders', async (c) => c.json({ verdict: c.get('ipStamp'), text: c.req.method === 'POST' ? await c.req.text() : null }));
  return app;
}

describe('options', () => {
  it('a wrong option is a TypeError naming it, at setup', () => {
    const keys = { keys: [key.publicJwk] };
    expect(() => ipstamp({ keys, required: 'yes' as unknown as boolean })).toThrow(new TypeError('required must be a boolean'));
    expect(() => ipstamp({ keys, echo: 1 as unknown as boolean })).toThrow(new TypeError('echo must be a boolean'));
    expect(() => ipstamp({ keys, bodyLimit: -1 })).toThrow(new TypeError('bodyLimit must be a whole number of bytes'));
    expect(() => ipstamp({ keys, bodyLimit: 1.5 })).toThrow(new TypeError('bodyLimit must be a whole number of bytes'));
    expect(() => ipstamp({ keys, connection: 'node' as never })).toThrow(/^connection must be a function/);
    expect(() => ipstamp({ keys, issuer: { key: {}, rateLimit: 0 } })).toThrow(/^issuer\.rateLimit must be/);
    expect(() => ipstamp({ keys, maxAge: -5 })).toThrow(TypeError); // the verifier's own check
  });

  it('an unknown option is a TypeError naming it: a typo never keeps a default', () => {
    const keys = { keys: [key.publicJwk] };
    expect(() => ipstamp({ keys, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    // the Fastify plugin's deprecated name is no option here: `required` is
    expect(() => ipstamp({ keys, requireStamp: false } as never)).toThrow(new TypeError('unknown option "requireStamp"'));
    expect(() => ipstamp({ keys, onMismach: 'flag' } as never)).toThrow(/^unknown option "onMismach" \(did you mean "onMismatch"\?\)$/);
    expect(() => ipstamp({ keys, issuer: { key: {}, ttl: 5 } as never })).toThrow(new TypeError('unknown option "issuer.ttl"'));
    expect(() =>
      ipstamp({ keys, required: false, echo: true, bodyLimit: 10, connection: () => ({ l3: '127.0.0.1' }), maxAge: 30, telemetry: undefined }),
    ).not.toThrow();
  });

  it('the verdict is typed through the Variables generic', () => {
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.get('/', (c) => {
      expectTypeOf(c.get('ipStamp')).toEqualTypeOf<Verdict | null>();
      return c.text('');
    });
  });
});

describe('required and optional, preflights', () => {
  it('required (default): no stamp → 401 missing as problem+json, the handler never runs', async () => {
    const response = await appWith().request('/orders');
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ reason: 'missing', status: 401 });
  });

  it('required: false → no stamp reaches the handler with ipStamp null; a stamp is verified all the same', async () => {
    const app = appWith({ required: false });
    expect(await (await app.request('/orders')).json()).toEqual({ verdict: null, text: null });
    const token = await createStamper({ key: key.privateJwk, ip: '198.51.100.1' }).stamp({ method: 'GET', url: `${ORIGIN}/orders` });
    const refused = await app.request(`${ORIGIN}/orders`, { headers: { 'client-ip-attestation': token } });
    expect([refused.status, ((await refused.json()) as { reason: string }).reason]).toEqual([403, 'ip-mismatch']);
  });

  it('a CORS preflight is never verified, and the app sees ipStamp null', async () => {
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(ipstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: PEER }) }));
    app.options('/orders', (c) => c.json({ seen: c.get('ipStamp') }));
    const response = await app.request('/orders', { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } });
    expect([response.status, await response.json()]).toEqual([200, { seen: null }]);
  });

  it('an unknown peer is refused (ip-unverifiable), at the echo route too', async () => {
    const app = appWith({ connection: () => ({ l3: undefined }) });
    const token = await createStamper({ key: key.privateJwk, ip: PEER }).stamp({ method: 'GET', url: `${ORIGIN}/orders` });
    const stamped = await app.request(`${ORIGIN}/orders`, { headers: { 'client-ip-attestation': token } });
    expect(stamped.status).toBe(403);
    expect(((await stamped.json()) as { reason: string }).reason).toBe('ip-unverifiable');
    expect((await app.request('/.well-known/ipstamp')).status).toBe(403);
  });
});

describe('the echo route (PROTOCOL §6)', () => {
  const ECHO = `${ORIGIN}/.well-known/ipstamp`;
  const echoing = (options: Partial<Parameters<typeof ipstamp>[0]> = {}) => {
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(ipstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: PEER }), ...options }));
    app.all('/.well-known/ipstamp', (c) => c.json({ app: c.req.method, ip: c.get('ipStamp')?.ip }));
    return app;
  };
  const stamped = async (method: string) => ({ 'client-ip-attestation': await createStamper({ key: key.privateJwk, ip: PEER }).stamp({ method, url: ECHO }) });

  it('answers GET, whatever its query, with no-store; another method is verified and reaches the app', async () => {
    const app = echoing();
    const echo = await app.request(`${ECHO}?fresh=1`);
    expect([echo.status, echo.headers.get('cache-control'), await echo.json()]).toEqual([200, 'no-store', { ip: PEER, time: expect.any(Number) }]);
    const posted = await app.request(ECHO, { method: 'POST', headers: await stamped('POST') });
    expect([posted.status, await posted.json()]).toEqual([200, { app: 'POST', ip: PEER }]);
  });

  it('echo: false leaves the path to the app, verified like any route', async () => {
    const app = echoing({ echo: false });
    const unstamped = await app.request(ECHO);
    expect([unstamped.status, ((await unstamped.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
    const withStamp = await app.request(ECHO, { headers: await stamped('GET') });
    expect([withStamp.status, await withStamp.json()]).toEqual([200, { app: 'GET', ip: PEER }]);
  });

  it("its time is the verifier's clock (the now option), on both entries", async () => {
    const NOW = 1_764_000_123_456;
    for (const entry of [ipstamp, webIpstamp]) {
      const app = new Hono().use(entry({ keys: { keys: [key.publicJwk] }, now: () => NOW, connection: () => ({ l3: PEER }) }));
      expect(await (await app.request(ECHO)).json()).toEqual({ ip: PEER, time: Math.floor(NOW / 1000) });
    }
  });
});

describe('body digest (cdg): the bytes as received, read once, bounded', () => {
  const stamp = (body: string) => createStamper({ key: key.privateJwk, ip: PEER, bodyDigest: true }).stamp({ method: 'POST', url: `${ORIGIN}/orders`, body });

  it('accepted with a Content-Length within the limit; the handler reads the same body afterwards', async () => {
    const body = '{"a":1}';
    const response = await appWith().request(`${ORIGIN}/orders`, {
      method: 'POST',
      headers: { 'client-ip-attestation': await stamp(body), 'content-length': String(body.length) },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ verdict: { agreement: 'match' }, text: body });
  });

  it('read when the body is exactly bodyLimit bytes, up to 1 MiB by default', async () => {
    for (const [options, length] of [
      [{ bodyLimit: 32 }, 32],
      [{}, 1024 * 1024],
    ] as const) {
      const body = 'z'.repeat(length);
      const response = await appWith(options).request(`${ORIGIN}/orders`, {
        method: 'POST',
        headers: { 'client-ip-attestation': await stamp(body), 'content-length': String(length) },
        body,
      });
      expect([response.status, ((await response.json()) as { verdict: { agreement: string } }).verdict.agreement]).toEqual([200, 'match']);
    }
  });

  it('refused when the body is over bodyLimit: the bytes are never read, so the digest cannot be checked', async () => {
    const body = 'x'.repeat(64);
    const response = await appWith({ bodyLimit: 63 }).request(`${ORIGIN}/orders`, {
      method: 'POST',
      headers: { 'client-ip-attestation': await stamp(body), 'content-length': '64' },
      body,
    });
    expect(response.status).toBe(401);
  });

  it('refused for a body without Content-Length (streamed): its length is unknown before reading', async () => {
    const body = '{"a":1}';
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(body));
        controller.close();
      },
    });
    const response = await appWith().request(`${ORIGIN}/orders`, {
      method: 'POST',
      headers: { 'client-ip-attestation': await stamp(body) },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(401);
  });

  // a stolen stamp for a bodiless request (its cdg covers the empty body) once passed with any
  // body the middleware did not read, and the handler read the unsigned bytes
  describe('a cdg over the empty body binds an empty body only', () => {
    const EVIL = '{"transfer":"all-funds","to":"mallory"}';
    const bodiless = (method: string) => createStamper({ key: key.privateJwk, ip: PEER, bodyDigest: true }).stamp({ method, url: `${ORIGIN}/orders` });
    const streamOf = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });

    it('refused with a streamed body (no Content-Length), and the handler never runs', async () => {
      const response = await appWith().request(`${ORIGIN}/orders`, {
        method: 'POST',
        headers: { 'client-ip-attestation': await bodiless('POST') },
        body: streamOf(EVIL),
        duplex: 'half',
      } as RequestInit);
      expect([response.status, ((await response.json()) as { reason: string }).reason]).toEqual([401, 'binding-mismatch']);
    });

    it('refused with a body over bodyLimit', async () => {
      const response = await appWith({ bodyLimit: 8 }).request(`${ORIGIN}/orders`, {
        method: 'POST',
        headers: { 'client-ip-attestation': await bodiless('POST'), 'content-length': String(EVIL.length) },
        body: EVIL,
      });
      expect([response.status, ((await response.json()) as { reason: string }).reason]).toEqual([401, 'binding-mismatch']);
    });

    it('accepted on a request that has no body', async () => {
      const get = await appWith().request(`${ORIGIN}/orders`, { headers: { 'client-ip-attestation': await bodiless('GET') } });
      expect(get.status).toBe(200);
      const post = await appWith().request(`${ORIGIN}/orders`, { method: 'POST', headers: { 'client-ip-attestation': await bodiless('POST') } });
      expect(await post.json()).toMatchObject({ verdict: { agreement: 'match' }, text: '' });
    });
  });
});
