import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as webIpstamp } from '../../server/hono/web.js';
import { MemoryReplayStore } from '../../server/index.js';
import { makeKey } from '../support/keys.js';

/**
 * Two ipstamp middlewares of two `ipstamp()` calls on one request — an optional one app-wide
 * and a required one on a route, the first step of a rollout (docs/adopting.md) — sharing a
 * replay store. The second would check the stamp the first accepted again and refuse it as a
 * replay of the first, silently, for every good stamp: it says so instead, as
 * `stamp.handler(fn)` behind a middleware does (handler-form.test.ts). A stampless request goes
 * through both as before: let through by the first, refused `missing` by the second. One call's
 * own middlewares (`stamp.optional` and `stamp`) check a stamp once: optional-twin.test.ts.
 */
const key = await makeKey('HS256', 'hono-layered');
const PEER = '127.0.0.2';
const ORIGIN = 'http://app.test';
const connection = () => ({ l3: PEER });

const variants = [
  ['ipstamp/hono', ipstamp],
  ['ipstamp/hono/web', webIpstamp],
] as const;

describe.each(variants)('%s: a required middleware behind an optional one', (_name, make) => {
  function layeredApp(): { app: Hono<{ Variables: IpStampVariables }>; handled: string[] } {
    const replayStore = new MemoryReplayStore();
    const handled: string[] = [];
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(make({ keys: { keys: [key.publicJwk] }, required: false, replayStore, connection }));
    app.get('/login', make({ keys: { keys: [key.publicJwk] }, replayStore, connection }), (c) => {
      handled.push('/login');
      return c.text('login');
    });
    app.get('/orders', (c) => c.text(c.get('ipStamp') === null ? 'unstamped' : 'stamped'));
    app.onError((error, c) => c.text(`${error.name}: ${error.message}`, 500));
    return { app, handled };
  }
  const stamped = async (path: string) => {
    const url = `${ORIGIN}${path}`;
    return { headers: { 'client-ip-attestation': await createStamper({ key: key.privateJwk, ip: PEER }).stamp({ method: 'GET', url }) } };
  };
  const answer = async (response: Response) => `${response.status} ${await response.text()}`;

  it('a stamp the first accepted is not refused as a replay by the second: a TypeError naming the mistake reaches onError, the handler does not run', async () => {
    const { app, handled } = layeredApp();
    const response = await app.request(`${ORIGIN}/login`, await stamped('/login'));
    expect(await answer(response)).toBe(
      '500 TypeError: ipstamp: a second ipstamp middleware on a request whose stamp the first accepted: put one on each request (the stamp would be checked twice, the second time as a replay)',
    );
    expect(handled).toEqual([]);
  });

  it('a stampless request is let through by the first and refused missing by the second; a route behind the first alone serves both', async () => {
    const { app, handled } = layeredApp();
    const missing = await app.request(`${ORIGIN}/login`);
    expect([missing.status, ((await missing.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
    expect(await answer(await app.request(`${ORIGIN}/orders`))).toBe('200 unstamped');
    expect(await answer(await app.request(`${ORIGIN}/orders`, await stamped('/orders')))).toBe('200 stamped');
    expect(handled).toEqual([]);
  });

  it('a middleware with a replay store of its own behind the optional one checks the stamp again: accepted, and its replay refused by the first', async () => {
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(make({ keys: { keys: [key.publicJwk] }, required: false, connection }));
    app.get('/login', make({ keys: { keys: [key.publicJwk] }, connection }), (c) => c.text(c.get('ipStamp')!.ip));
    const request = await stamped('/login');
    expect(await answer(await app.request(`${ORIGIN}/login`, request))).toBe(`200 ${PEER}`);
    const replayed = await app.request(`${ORIGIN}/login`, request);
    expect([replayed.status, ((await replayed.json()) as { reason: string }).reason]).toEqual([401, 'replay']);
  });

  it('one middleware mounted on overlapping paths checks a stamp once: what it accepted on the outer one goes through the inner one, its replay is refused', async () => {
    const stamp = make({ keys: { keys: [key.publicJwk] }, connection });
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use('/api/*', stamp);
    app.use('/api/admin/*', stamp);
    app.get('/api/admin/users', (c) => c.text(c.get('ipStamp')!.ip));
    app.onError((error, c) => c.text(error.name, 500));
    const request = await stamped('/api/admin/users');
    expect(await answer(await app.request(`${ORIGIN}/api/admin/users`, request))).toBe(`200 ${PEER}`);
    const replayed = await app.request(`${ORIGIN}/api/admin/users`, request);
    expect([replayed.status, ((await replayed.json()) as { reason: string }).reason]).toEqual([401, 'replay']);
  });

  it("docs/hono.md's path switch sends each request through one of the two: a good stamp on /login is accepted, a stampless one refused", async () => {
    const replayStore = new MemoryReplayStore();
    const required = make({ keys: { keys: [key.publicJwk] }, replayStore, connection });
    const optional = make({ keys: { keys: [key.publicJwk] }, required: false, replayStore, connection });
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use((c, next) => (c.req.path === '/login' ? required(c, next) : optional(c, next)));
    app.get('/login', (c) => c.text(c.get('ipStamp')!.ip));
    app.get('/orders', (c) => c.text(c.get('ipStamp') === null ? 'unstamped' : 'stamped'));
    expect(await answer(await app.request(`${ORIGIN}/login`, await stamped('/login')))).toBe(`200 ${PEER}`);
    expect((await app.request(`${ORIGIN}/login`)).status).toBe(401);
    expect(await answer(await app.request(`${ORIGIN}/orders`))).toBe('200 unstamped');
  });
});
