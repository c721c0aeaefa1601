import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { trackPeerAddresses } from '../../server/node/index.js';
import { AUTHORITY_ANSWERS, authorityCases, BODY_ANSWERS, bodyCases, h2Answers, h2StreamTests, TARGET_ANSWERS, targetCases } from '../support/h2-session.js';
import { makeKey } from '../support/keys.js';

/**
 * The middleware on `@hono/node-server` serving cleartext HTTP/2 (`createServer` from
 * node:http2), driven by node:http2's client. Where it differs from Fastify: a body is read
 * for `cdg` only when its `content-length` says how long it is (docs/hono.md), and
 * @hono/node-server itself answers 400 to a request it cannot make a URL of.
 */
let server: Http2Server;
let port: number;
let origin: string;
let stamper: Stamper;
/** Requests the ipstamp middleware let reach a handler, and requests the app began. */
let handled = 0;
let begun = 0;

beforeAll(async () => {
  // @hono/node-server writes every request whose client went away mid-body to console.error
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const key = await makeKey('HS256', 'hono-h2');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(async (_c, next) => {
    begun++;
    await next();
  });
  app.use(ipstamp({ keys: { keys: [key.publicJwk] } }));
  app.all('*', (c) => {
    handled++;
    return c.json({ jti: c.get('ipStamp')?.jti ?? null });
  });
  server = trackPeerAddresses(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer }) as Http2Server);
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  vi.restoreAllMocks();
});

describe('Hono on @hono/node-server over HTTP/2', () => {
  it('binds a stamp to :authority; a host beside it must name the same origin but for case', async () => {
    expect(await h2Answers(origin, await authorityCases(stamper, port))).toEqual({
      ...AUTHORITY_ANSWERS,
      // @hono/node-server makes no URL of it: refused before any middleware runs
      // refused either way: Node 22 and 24 reset the stream themselves, Node 20 hands it on
      ':authority with userinfo': expect.stringMatching(/^(400 ""|reset ERR_HTTP2_\w+)$/),
    });
    expect(await h2Answers(origin, [{ name: 'unstamped', headers: { ':path': '/orders' } }])).toEqual({ unstamped: '401 missing' });
  });

  it('compares :path with htu as sent, as the HTTP/1.1 request-target', async () => {
    expect(await h2Answers(origin, await targetCases(stamper, port))).toEqual({ ...TARGET_ANSWERS, asterisk: '400 ""' });
  });

  it('checks cdg over a body whose content-length is sent; without one the body is not read and cdg fails closed', async () => {
    expect(await h2Answers(origin, await bodyCases(stamper, port))).toEqual({ ...BODY_ANSWERS, 'cdg, content-length': 'accepted' });
  });

  h2StreamTests(() => ({ origin, stamper, server: server, begun: () => begun, handled: () => handled }));
});
