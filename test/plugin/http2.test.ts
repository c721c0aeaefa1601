import { type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { authorityCases, bodyCases, h2Answers, h2StreamTests, NODE_H2_REFUSAL, targetCases } from '../support/h2-session.js';
import { makeKey } from '../support/keys.js';

/**
 * The plugin on `Fastify({ http2: true })` (cleartext HTTP/2, node:http2's compatibility API
 * underneath), driven by node:http2's client: the same verdicts as over HTTP/1.1, with
 * `:authority` for Host and bodies framed by DATA frames, with or without `content-length`.
 */
let app: FastifyInstance<Http2Server, Http2ServerRequest, Http2ServerResponse>;
let port: number;
let origin: string;
let stamper: Stamper;
/** Requests the plugin let reach a handler, and requests Fastify began (onRequest). */
let handled = 0;
let begun = 0;

beforeAll(async () => {
  const key = await makeKey('HS256', 'fastify-h2');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  app = Fastify({ http2: true });
  await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
  app.addHook('onRequest', (_request, _reply, done) => {
    begun++;
    done();
  });
  app.all('*', async (request) => {
    handled++;
    return { jti: request.ipStamp?.jti ?? null };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await app.close();
});

describe('Fastify({ http2: true })', () => {
  it('binds a stamp to :authority; a host beside it must name the same origin but for case', async () => {
    expect(await h2Answers(origin, await authorityCases(stamper, port))).toEqual({
      ':authority alone': 'accepted',
      'host equal but for case': 'accepted',
      'host names another, stamp for :authority': '401 binding-mismatch',
      'host names another, stamp for host': '401 binding-mismatch',
      'host with the default port beside :authority without': '401 binding-mismatch',
      'host alone': 'accepted',
      // refused either way: Node 22 and 24 reset the stream themselves, Node 20 hands it on
      ':authority with userinfo': expect.stringMatching(/^(401 binding-mismatch|reset ERR_HTTP2_\w+)$/),
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
      asterisk: '401 binding-mismatch',
    });
  });

  it('checks cdg over a body with or without content-length; a body nobody read fails closed', async () => {
    expect(await h2Answers(origin, await bodyCases(stamper, port))).toEqual({
      'cdg, no content-length': 'accepted',
      'cdg, content-length': 'accepted',
      'cdg, content-length shorter than the DATA': expect.stringMatching(NODE_H2_REFUSAL),
      'cdg, content-length longer than the DATA': expect.stringMatching(NODE_H2_REFUSAL),
      // text/plain: Fastify's parser read the DATA, and it was empty
      'cdg over no body, empty DATA with END_STREAM': 'accepted',
      'cdg over no body, content-length 0, empty DATA': 'accepted',
      'cdg over no body, a GET with a body': '401 binding-mismatch',
      'the stamp in trailers only': '401 missing',
    });
  });

  h2StreamTests(() => ({ origin, stamper, server: app.server, begun: () => begun, handled: () => handled }));
});
