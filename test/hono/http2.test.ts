import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { trackPeerAddresses } from '../../server/node/index.js';
import { authorityCases, bodyCases, h2Answers, h2StreamTests, NODE_H2_REFUSAL, targetCases } from '../support/h2-session.js';
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
      ':authority alone': 'accepted',
      'host equal but for case': 'accepted',
      'host names another, stamp for :authority': '401 binding-mismatch',
      'host names another, stamp for host': '401 binding-mismatch',
      'host with the default port beside :authority without': '401 binding-mismatch',
      'host alone': 'accepted',
      // @hono/node-server makes no URL of it: refused before any middleware runs
      // refused either way: Node 22 and 24 reset the stream themselves, Node 20 hands it on
      ':authority with userinfo': expect.stringMatching(/^(400 ""|reset ERR_HTTP2_\w+)$/),
      ':authority with a zero-padded port': '401 binding-mismatch',
      ':authority with the default port': 'accepted',
    });
    expect(await h2Answers(origin, [{ name: 'unstamped', headers: { ':path': '/orders' } }])).toEqual({ unstamped: '401 missing' });
  });

  it('compares :path with htu as sent, as the HTTP/1.1 request-target', async () => {
    expect(await h2Answers(origin, await targetCases(stamper, port))).toEqual({
      query: 'accepted',
      'dot segments, signed resolved': '401 binding-mismatch',
      'dot segments, signed as sent': 'accepted',
      'percent-encoding, signed decoded': '401 binding-mismatch',
      'percent-encoding, signed as sent': 'accepted',
      // RFC 9113 §8.3.1: node:http2 resets a stream whose :path is neither origin-form nor `*`
      'absolute form': expect.stringMatching(NODE_H2_REFUSAL),
      asterisk: '400 ""',
    });
  });

  it('checks cdg over a body whose content-length is sent; without one the body is not read and cdg fails closed', async () => {
    expect(await h2Answers(origin, await bodyCases(stamper, port))).toEqual({
      'cdg, no content-length': '401 binding-mismatch',
      'cdg, content-length': 'accepted',
      'cdg, content-length shorter than the DATA': expect.stringMatching(NODE_H2_REFUSAL),
      'cdg, content-length longer than the DATA': expect.stringMatching(NODE_H2_REFUSAL),
      'cdg over no body, empty DATA with END_STREAM': '401 binding-mismatch',
      'cdg over no body, content-length 0, empty DATA': 'accepted',
      'cdg over no body, a GET with a body': '401 binding-mismatch',
      'the stamp in trailers only': '401 missing',
    });
  });

  h2StreamTests(() => ({ origin, stamper, server: server, begun: () => begun, handled: () => handled }));
});
