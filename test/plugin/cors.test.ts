import cors from '@fastify/cors';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateStampKey, type StampKey } from '../../client/browser-key.js';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { isCorsPreflight } from '../../server/index.js';
import { registerCorsAnswers } from '../../server/cli/cors-answers.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { buildApp } from './app.js';

/**
 * CORS (issue 12 item 10): a browser on another origin first sends a preflight — OPTIONS with
 * Origin and Access-Control-Request-Method, never a stamp — and sends the stamped request
 * only if the preflight is answered. fastify.inject: the TCP peer is 127.0.0.1, the origin
 * the stamps bind to http://localhost:80.
 */
const APP_ORIGIN = 'https://app.example.com';
const API = 'http://localhost:80';
let key: TestKeyPair;
let issuerKey: JWK;
let client: StampKey;

beforeAll(async () => {
  key = await makeKey('ES256', 'spa');
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
  client = await generateStampKey({ alg: 'ES256' });
});

function stamp(method: string, path: string, ip = '127.0.0.1'): Promise<string> {
  return createStamper({ key: key.privateJwk, ip }).stamp({ method, url: `${API}${path}` });
}

const preflightHeaders = {
  origin: APP_ORIGIN,
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'client-ip-attestation,content-type',
};

describe('isCorsPreflight: exactly OPTIONS with Origin and Access-Control-Request-Method', () => {
  const cases: [method: string, headers: Record<string, string>, preflight: boolean][] = [
    ['OPTIONS', { origin: APP_ORIGIN, 'access-control-request-method': 'POST' }, true],
    ['OPTIONS', { origin: 'null', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'client-ip-attestation' }, true],
    ['OPTIONS', { origin: APP_ORIGIN }, false],
    ['OPTIONS', { 'access-control-request-method': 'POST' }, false],
    ['OPTIONS', {}, false],
    ['POST', { origin: APP_ORIGIN, 'access-control-request-method': 'POST' }, false],
    ['GET', { origin: APP_ORIGIN, 'access-control-request-method': 'GET' }, false],
    ['options', { origin: APP_ORIGIN, 'access-control-request-method': 'POST' }, false],
  ];
  for (const [method, headers, preflight] of cases) {
    it(`${method} ${Object.keys(headers).join(' + ') || '(no headers)'} → ${preflight}`, () => {
      expect(isCorsPreflight(method, headers)).toBe(preflight);
    });
  }
});

describe('the plugin never stamp-checks a CORS preflight', () => {
  it("a preflight reaches the app's own OPTIONS handler (no stamp, route requires one)", async () => {
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (a) => {
      a.options('/items', async (_request, reply) => reply.code(204).header('access-control-allow-origin', APP_ORIGIN).send());
    });
    const res = await app.inject({ method: 'OPTIONS', url: '/items', headers: preflightHeaders });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    // not verified at all: neither refused nor counted as an unstamped request
    const { accepted, rejected, unstamped } = app.ipstamp.metrics();
    expect([accepted, Object.values(rejected).some((n) => n > 0), unstamped]).toEqual([{ match: 0, mismatch: 0, unverifiable: 0 }, false, 0]);
  });

  it('a preflight to a path without an OPTIONS route is not found, not refused', async () => {
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] } });
    const res = await app.inject({ method: 'OPTIONS', url: '/nowhere', headers: preflightHeaders });
    expect(res.statusCode).toBe(404);
  });

  const notPreflights: Record<string, Record<string, string>> = {
    'Origin alone': { origin: APP_ORIGIN },
    'Access-Control-Request-Method alone': { 'access-control-request-method': 'POST' },
    'neither header': {},
  };
  for (const [name, headers] of Object.entries(notPreflights)) {
    it(`any other OPTIONS request is verified like the rest: ${name} → 401 missing`, async () => {
      const { app } = await buildApp({ keys: { keys: [key.publicJwk] } });
      const res = await app.inject({ method: 'OPTIONS', url: '/orders', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ reason: 'missing' });
    });
  }

  it('a stamped plain OPTIONS request is verified and accepted', async () => {
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] } });
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/orders',
      headers: { origin: APP_ORIGIN, 'client-ip-attestation': await stamp('OPTIONS', '/orders') },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().ipStamp).toMatchObject({ ip: '127.0.0.1', agreement: 'match' });
  });

  it('a preflight-shaped OPTIONS is not a way past the verifier: the handler sees no verdict', async () => {
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (a) => {
      a.options('/items', async (request) => ({ ipStamp: request.ipStamp }));
    });
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/items',
      headers: { ...preflightHeaders, 'client-ip-attestation': await stamp('OPTIONS', '/items', '203.0.113.9') },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ipStamp: null });
  });
});

const CORS_OPTIONS = {
  origin: [APP_ORIGIN],
  methods: ['GET', 'POST'],
  allowedHeaders: ['client-ip-attestation', 'client-ip-ticket', 'content-type'],
  exposedHeaders: ['date'],
  maxAge: 600,
};

/** The plugin (verifier, echo, ticket issuer) and @fastify/cors, registered in the given order. */
async function corsApp(order: 'cors first' | 'ipstamp first', rateLimit?: number): Promise<FastifyInstance> {
  const app = Fastify();
  const plugin = { keys: { keys: [key.publicJwk] }, issuer: { key: issuerKey, origin: 'https://edge.example', rateLimit } };
  if (order === 'cors first') {
    await app.register(cors, CORS_OPTIONS);
    await app.register(ipstamp, plugin);
  } else {
    await app.register(ipstamp, plugin);
    await app.register(cors, CORS_OPTIONS);
  }
  app.route({ method: ['GET', 'POST'], url: '/orders', handler: async (request) => ({ ip: request.ipStamp?.ip }) });
  await app.ready();
  return app;
}

function expectCors(res: LightMyRequestResponse): void {
  expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
}

async function askTicket(app: FastifyInstance) {
  const proof = await createTicketRequestProof(client, `${API}/.well-known/ipstamp/ticket`);
  return app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { origin: APP_ORIGIN, 'client-ip-attestation': proof } });
}

for (const order of ['cors first', 'ipstamp first'] as const) {
  describe(`with @fastify/cors, ${order}`, () => {
    it('answers the preflight of a stamped route and of the ticket route', async () => {
      const app = await corsApp(order);
      for (const url of ['/orders', '/.well-known/ipstamp/ticket']) {
        const res = await app.inject({ method: 'OPTIONS', url, headers: preflightHeaders });
        expect(res.statusCode, url).toBe(204);
        expectCors(res);
        expect(res.headers['access-control-allow-headers']).toContain('client-ip-attestation');
      }
    });

    it('an accepted cross-origin request carries the CORS headers', async () => {
      const app = await corsApp(order);
      const res = await app.inject({ url: '/orders', headers: { origin: APP_ORIGIN, 'client-ip-attestation': await stamp('GET', '/orders') } });
      expect(res.statusCode).toBe(200);
      expectCors(res);
      expect(res.headers['access-control-expose-headers']).toContain('date');
    });

    it('refusals carry the CORS headers, so the page can read the reason: missing, ip-mismatch, bad-ticket', async () => {
      const app = await corsApp(order);
      const missing = await app.inject({ url: '/orders', headers: { origin: APP_ORIGIN } });
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toMatchObject({ reason: 'missing' });
      expectCors(missing);

      const mismatch = await app.inject({
        url: '/orders',
        headers: { origin: APP_ORIGIN, 'client-ip-attestation': await stamp('GET', '/orders', '203.0.113.9') },
      });
      expect(mismatch.statusCode).toBe(403);
      expect(mismatch.json()).toMatchObject({ reason: 'ip-mismatch' });
      expectCors(mismatch);

      const badTicket = await app.inject({
        url: '/orders',
        headers: { origin: APP_ORIGIN, 'client-ip-ticket': 'e30.e30.AAAA', 'client-ip-attestation': await stamp('GET', '/orders') },
      });
      expect(badTicket.json()).toMatchObject({ reason: 'bad-ticket' });
      expectCors(badTicket);
    });

    it('the echo route works cross-origin', async () => {
      const app = await corsApp(order);
      const res = await app.inject({ url: '/.well-known/ipstamp', headers: { origin: APP_ORIGIN } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ip: '127.0.0.1', time: expect.any(Number) });
      expectCors(res);
    });

    it('the ticket route works cross-origin: issued, refused (replayed proof) and rate-limited answers all carry the CORS headers', async () => {
      const app = await corsApp(order, 2);
      const issued = await askTicket(app);
      expect(issued.statusCode).toBe(200);
      expectCors(issued);
      const proof = await createTicketRequestProof(client, `${API}/.well-known/ipstamp/ticket`);
      const send = () => app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { origin: APP_ORIGIN, 'client-ip-attestation': proof } });
      expect((await send()).statusCode).toBe(200);
      const limited = await send();
      expect(limited.statusCode).toBe(429);
      expectCors(limited);
      const jwks = await app.inject({ url: '/.well-known/ipstamp/issuer-jwks', headers: { origin: APP_ORIGIN } });
      expect(jwks.statusCode).toBe(200);
      expectCors(jwks);
    });

    it('the replayed ticket proof is refused as problem+json with the CORS headers', async () => {
      const app = await corsApp(order);
      const proof = await createTicketRequestProof(client, `${API}/.well-known/ipstamp/ticket`);
      const send = () => app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { origin: APP_ORIGIN, 'client-ip-attestation': proof } });
      expect((await send()).statusCode).toBe(200);
      const again = await send();
      expect(again.statusCode).toBe(401);
      expect(again.json()).toMatchObject({ reason: 'replay' });
      expectCors(again);
    });
  });
}

describe('registerCorsAnswers (what serve --cors-origin uses)', () => {
  it('refuses anything but http(s) origins at setup, naming the option', () => {
    for (const origins of [['*'], ['app.example.com'], ['https://app.example.com/path'], 'https://app.example.com', [42]]) {
      expect(() => registerCorsAnswers(Fastify(), { origins } as never)).toThrow(/^cors\.origins must/);
    }
  });

  it("adds Origin to a Vary the handler set, once, and leaves a preflight's answer to itself", async () => {
    const app = Fastify();
    registerCorsAnswers(app, { origins: ['https://APP.example.com:443'] });
    app.get('/v', async (_request, reply) => reply.header('vary', 'Accept-Encoding, origin').send('x'));
    app.get('/w', async (_request, reply) => reply.header('vary', 'Accept-Encoding').send('x'));
    const v = await app.inject({ url: '/v', headers: { origin: APP_ORIGIN } });
    expect(v.headers.vary).toBe('Accept-Encoding, origin');
    expect(v.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    const w = await app.inject({ url: '/w', headers: { origin: APP_ORIGIN } });
    expect(w.headers.vary).toBe('Accept-Encoding, Origin');
    const pre = await app.inject({ method: 'OPTIONS', url: '/w', headers: preflightHeaders });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-expose-headers']).toBeUndefined();
    expect(pre.headers['access-control-allow-headers']).toBe('client-ip-attestation, client-ip-ticket, content-type');
  });
});
