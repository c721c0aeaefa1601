import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { buildApp } from './app.js';

const HOST = 'api.example.com';
let key: TestKeyPair;
let stamper: Stamper;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  key = await makeKey('HS256', 'client-hs');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(before?: (a: FastifyInstance) => void): Promise<FastifyInstance> {
  ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }, before));
  return app;
}

/** Stamps `signed` but sends `sent` (the same bytes unless a test tampers). */
async function post(a: FastifyInstance, contentType: string, signed: string, sent = signed, path = '/orders') {
  const token = await stamper.stamp({ method: 'POST', url: `http://${HOST}${path}`, body: signed });
  return a.inject({
    method: 'POST',
    url: path,
    headers: { host: HOST, 'content-type': contentType, 'client-ip-attestation': token },
    payload: sent,
  });
}

describe('cdg is checked against the exact raw body bytes', () => {
  it('JSON: accepted, and the handler still gets the parsed object', async () => {
    const a = await start();
    const response = await post(a, 'application/json', '{"order": 1,  "items": ["a"]}');
    expect(response.statusCode).toBe(200);
    expect(response.json().body).toEqual({ order: 1, items: ['a'] });
    expect(response.json().ipStamp.kid).toBe('client-hs');
  });

  it('JSON: the same object in other bytes (re-serialized) is a binding-mismatch', async () => {
    const response = await post(await start(), 'application/json', '{"order": 1}', '{"order":1}');
    expect(response.statusCode).toBe(401);
    expect(response.json().reason).toBe('binding-mismatch');
  });

  it('JSON with a charset parameter and multi-byte UTF-8 keeps working', async () => {
    const response = await post(await start(), 'application/json; charset=utf-8', '{"name":"Zoë 🙂"}');
    expect(response.statusCode).toBe(200);
    expect(response.json().body).toEqual({ name: 'Zoë 🙂' });
  });

  it('text/plain: the handler gets the text decoded as UTF-8', async () => {
    const text = 'Zoë 🙂 ñ';
    const response = await post(await start(), 'text/plain; charset=utf-8', text);
    expect([response.statusCode, response.json().body]).toEqual([200, text]);
  });

  it("JSON: the app's own onProtoPoisoning and onConstructorPoisoning settings are kept", async () => {
    app = Fastify({ onProtoPoisoning: 'remove', onConstructorPoisoning: 'remove' });
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    app.post('/orders', async (request) => ({ body: request.body }));
    const response = await post(app, 'application/json', '{"a":1,"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}}');
    expect([response.statusCode, response.json()]).toEqual([200, { body: { a: 1 } }]);
  });

  it("JSON: Fastify's prototype-poisoning protection is kept", async () => {
    const response = await post(await start(), 'application/json', '{"__proto__": {"admin": true}}');
    expect(response.statusCode).toBe(400);
  });

  it('text/plain: accepted, handler gets the string; a changed byte is rejected', async () => {
    const a = await start();
    const ok = await post(a, 'text/plain', 'hello world');
    expect(ok.statusCode).toBe(200);
    expect(ok.json().body).toBe('hello world');
    const bad = await post(a, 'text/plain', 'hello world', 'hello World');
    expect(bad.json().reason).toBe('binding-mismatch');
  });

  it("another content type with the app's own parser: the tee supplies the bytes", async () => {
    const a = await start((pre) => {
      pre.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      });
    });
    const ok = await post(a, 'application/x-www-form-urlencoded', 'a=1&b=two');
    expect(ok.statusCode).toBe(200);
    expect(ok.json().body).toEqual({ a: '1', b: 'two' });
    const bad = await post(a, 'application/x-www-form-urlencoded', 'a=1&b=two', 'b=two&a=1');
    expect(bad.json().reason).toBe('binding-mismatch');
  });

  it("an app's own JSON parser (registered first) is kept, and the tee covers it", async () => {
    const a = await start((pre) => {
      pre.removeContentTypeParser('application/json');
      pre.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        done(null, { custom: JSON.parse(body as string) });
      });
    });
    const response = await post(a, 'application/json', '{"x":1}');
    expect(response.statusCode).toBe(200);
    expect(response.json().body).toEqual({ custom: { x: 1 } });
    expect((await post(a, 'application/json', '{"x":1}', '{"x":2}')).json().reason).toBe('binding-mismatch');
  });

  it.each(['application/json', 'text/plain'])(
    'a %s parser added after the plugin is refused by Fastify (FST_ERR_CTP_ALREADY_PRESENT): the default it would replace is gone',
    async (type) => {
      const a = Fastify();
      await a.register(ipstamp, { keys: { keys: [key.publicJwk] } });
      expect(() => a.addContentTypeParser(type, (_req, _payload, done) => done(null, {}))).toThrow(
        expect.objectContaining({ code: 'FST_ERR_CTP_ALREADY_PRESENT' }),
      );
      await a.close();
    },
  );

  it('a body the hook never sees complete (a parser that leaves the stream to the handler) fails closed', async () => {
    const a = await start((pre) => {
      pre.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    });
    const response = await post(a, 'application/octet-stream', 'bytes');
    expect(response.statusCode).toBe(401);
    expect(response.json().reason).toBe('binding-mismatch');
  });

  it('a stamp without cdg on a body is not bound to the body (nothing is retained for it)', async () => {
    const a = await start();
    const plain = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    const token = await plain.stamp({ method: 'POST', url: `http://${HOST}/orders` });
    const response = await a.inject({
      method: 'POST',
      url: '/orders',
      headers: { host: HOST, 'content-type': 'application/json', 'client-ip-attestation': token },
      payload: '{"any":"thing"}',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().body).toEqual({ any: 'thing' });
  });

  it('an unstamped request to a required route is refused before its body is read', async () => {
    const a = await start((pre) => {
      pre.addContentTypeParser('application/x-never', (_req, _payload, done) => done(new Error('parser must not run'), undefined));
    });
    const response = await a.inject({
      method: 'POST',
      url: '/orders',
      headers: { host: HOST, 'content-type': 'application/x-never' },
      payload: 'x',
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().reason).toBe('missing');
  });
});

describe("the tee and the route's bodyLimit", () => {
  const LIMIT = 64;
  it('a body of exactly bodyLimit bytes is checked; one past it is never vouched for, even when a parser of the app reads it all', async () => {
    app = Fastify();
    app.addContentTypeParser('application/x-thing', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    // a parser of the app's own that reads the stream itself, whatever its length
    app.addContentTypeParser('application/x-stream', (_request, payload, done) => {
      let text = '';
      payload.on('data', (chunk: Buffer) => (text += chunk.toString()));
      payload.on('end', () => done(null, text));
    });
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    app.post('/orders', { bodyLimit: LIMIT }, async (request) => ({ length: (request.body as string).length }));
    const exact = await post(app, 'application/x-thing', 'a'.repeat(LIMIT));
    expect([exact.statusCode, exact.json()]).toEqual([200, { length: LIMIT }]);
    const past = await post(app, 'application/x-stream', 'b'.repeat(LIMIT + 1));
    expect([past.statusCode, past.json().reason]).toEqual([401, 'binding-mismatch']);
  });
});
