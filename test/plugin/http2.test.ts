import { type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { AUTHORITY_ANSWERS, authorityCases, BODY_ANSWERS, bodyCases, h2Answers, h2StreamTests, TARGET_ANSWERS, targetCases } from '../support/h2-session.js';
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
    expect(await h2Answers(origin, await authorityCases(stamper, port))).toEqual(AUTHORITY_ANSWERS);
    expect(await h2Answers(origin, [{ name: 'unstamped', headers: { ':path': '/orders' } }])).toEqual({ unstamped: '401 missing' });
  });

  it('compares :path with htu as sent, as the HTTP/1.1 request-target', async () => {
    expect(await h2Answers(origin, await targetCases(stamper, port))).toEqual(TARGET_ANSWERS);
  });

  it('checks cdg over a body with or without content-length; a body nobody read fails closed', async () => {
    expect(await h2Answers(origin, await bodyCases(stamper, port))).toEqual({
      ...BODY_ANSWERS,
      'cdg, no content-length': 'accepted',
      'cdg, content-length': 'accepted',
      // text/plain: Fastify's parser read the DATA, and it was empty
      'cdg over no body, empty DATA with END_STREAM': 'accepted',
    });
  });

  h2StreamTests(() => ({ origin, stamper, server: app.server, begun: () => begun, handled: () => handled }));
});
