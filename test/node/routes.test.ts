import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { createStampedFetch, createStamper, generateStampKey } from '../../client/index.js';
import { ipstamp, trackPeerAddresses, type Verdict } from '../../server/node/index.js';
import { makeKey } from '../support/keys.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

async function listen(app: express.Express): Promise<string> {
  const server = trackPeerAddresses(app.listen(0, '127.0.0.1'));
  servers.push(server);
  await new Promise((done) => server.once('listening', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };

describe('ipstamp/node ticket routes (Express 5)', () => {
  it('an edge issues tickets an inner verifier accepts; its JWK Set is served; the limit per observed address answers 429', async () => {
    const edge = express();
    edge.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey, rateLimit: 2 } }));
    const edgeOrigin = await listen(edge);
    const jwks = await fetch(`${edgeOrigin}/.well-known/ipstamp/issuer-jwks`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual(['edge-1']);

    const api = express();
    api.use(ipstamp({ keys: { keys: [] }, issuers: { [edgeOrigin]: `${edgeOrigin}/.well-known/ipstamp/issuer-jwks` } }));
    api.post('/orders', (req, res) => void res.json(req.ipStamp));
    const apiOrigin = await listen(api);

    const key = await generateStampKey({ alg: 'ES256' });
    const stampedFetch = createStampedFetch({ key, ip: 'ticket', issuer: edgeOrigin });
    const res = await stampedFetch(`${apiOrigin}/orders`, { method: 'POST', body: '{"item":"tea"}' });
    const verdict = (await res.json()) as Verdict;
    expect([res.status, verdict.ip, verdict.agreement, verdict.source, verdict.issuer]).toEqual([200, '127.0.0.1', 'match', 'ticket', edgeOrigin]);

    // one ticket issued so far: one more passes the limit of 2, the next is refused before it is read
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await fetch(`${edgeOrigin}/.well-known/ipstamp/ticket`, { method: 'POST' })).status);
    expect(statuses).toEqual([401, 429]);
    const limited = await fetch(`${edgeOrigin}/.well-known/ipstamp/ticket`, { method: 'POST' });
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(((await limited.json()) as { reason: string }).reason).toBe('rate-limited');
  });
});

describe('a ticket that lives less than 30 s', () => {
  it('is asked for once for a run of stamped requests, not before each until the rate limit refuses', async () => {
    const edge = express();
    let asked = 0;
    edge.use((req, _res, next) => {
      if (req.path === '/.well-known/ipstamp/ticket') asked++;
      next();
    });
    edge.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey, lifetime: 20, rateLimit: 3 } }));
    const edgeOrigin = await listen(edge);
    const api = express();
    api.use(ipstamp({ keys: { keys: [] }, issuers: { [edgeOrigin]: `${edgeOrigin}/.well-known/ipstamp/issuer-jwks` } }));
    api.get('/orders', (req, res) => void res.json(req.ipStamp));
    const apiOrigin = await listen(api);

    const stampedFetch = createStampedFetch({ key: await generateStampKey({ alg: 'ES256' }), ip: 'ticket', issuer: edgeOrigin });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await stampedFetch(`${apiOrigin}/orders`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(asked).toBe(1);
  });
});

describe('ipstamp/node: the issuer answers only its own requests', () => {
  // any other method on its paths once went to the app's next handler unverified (ipStamp null)
  it('another method on the ticket or JWK Set path is verified like any request: refused without a stamp', async () => {
    const app = express();
    app.use(ipstamp({ keys: { keys: [] }, issuer: { key: issuerKey } }));
    const reached: string[] = [];
    app.use((req, res) => {
      reached.push(`${req.method} ${req.path}`);
      res.json({ ipStamp: req.ipStamp });
    });
    const origin = await listen(app);
    const statuses = [];
    for (const [method, path] of [
      ['GET', '/.well-known/ipstamp/ticket'],
      ['PUT', '/.well-known/ipstamp/ticket'],
      ['POST', '/.well-known/ipstamp/issuer-jwks'],
      ['DELETE', '/.well-known/ipstamp/issuer-jwks'],
    ]) {
      const res = await fetch(`${origin}${path}`, { method });
      statuses.push([method, res.status, ((await res.json()) as { reason?: string }).reason]);
    }
    expect(statuses).toEqual([
      ['GET', 401, 'missing'],
      ['PUT', 401, 'missing'],
      ['POST', 401, 'missing'],
      ['DELETE', 401, 'missing'],
    ]);
    expect(reached).toEqual([]);
  });
});

describe('ipstamp/node options and surface', () => {
  it('a wrong option is a TypeError naming it, at setup', () => {
    const keys = { keys: [] };
    expect(() => ipstamp({ keys, required: 'yes' as unknown as boolean })).toThrow(new TypeError('required must be a boolean'));
    expect(() => ipstamp({ keys, echo: 1 as unknown as boolean })).toThrow(new TypeError('echo must be a boolean'));
    expect(() => ipstamp({ keys, bodyLimit: -1 })).toThrow(new TypeError('bodyLimit must be a whole number of bytes'));
    expect(() => ipstamp({ keys, issuer: { key: issuerKey, rateLimit: 0 } })).toThrow(/^issuer\.rateLimit must be/);
    expect(() => ipstamp({ keys, issuer: { key: issuerKey, lifetime: 0 } })).toThrow(/^issuer\.lifetime/);
    expect(() => ipstamp({ keys, maxAge: 0 })).toThrow(/^maxAge/);
  });

  it('an unknown option is a TypeError naming it: a typo never keeps a default', () => {
    const keys = { keys: [] };
    expect(() => ipstamp({ keys, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    // the Fastify plugin's deprecated name is no option here: `required` is
    expect(() => ipstamp({ keys, requireStamp: false } as never)).toThrow(new TypeError('unknown option "requireStamp"'));
    expect(() => ipstamp({ keys, trustedProxy: ['10.0.0.1'] } as never)).toThrow(/^unknown option "trustedProxy" \(did you mean "trustedProxies"\?\)$/);
    expect(() => ipstamp({ keys, issuer: { key: issuerKey, ttl: 5 } as never })).toThrow(new TypeError('unknown option "issuer.ttl"'));
    // every option of the verifier passes through, telemetry and replayStore included
    expect(() =>
      ipstamp({ keys, replayStore: { insertIfAbsent: () => true }, onStoreError: 'reject', requireBodyDigest: false, telemetry: undefined }),
    ).not.toThrow();
  });

  it('CORS preflights pass untouched; echo: false leaves the echo path to the app', async () => {
    const app = express();
    app.use(ipstamp({ keys: { keys: [] }, echo: false }));
    app.options('/orders', (_req, res) => void res.status(204).end());
    app.get('/.well-known/ipstamp', (_req, res) => void res.json({ mine: true }));
    const origin = await listen(app);
    const preflight = await fetch(`${origin}/orders`, { method: 'OPTIONS', headers: { origin: 'http://a.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    const plainOptions = await fetch(`${origin}/orders`, { method: 'OPTIONS' });
    expect(plainOptions.status).toBe(401);
    expect((await fetch(`${origin}/.well-known/ipstamp`)).status).toBe(401);
  });

  it('a mount path: htu is the URL as received (originalUrl), not the router-relative one', async () => {
    const key = await makeKey('HS256', 'mount');
    const app = express();
    const router = express.Router();
    router.use(ipstamp({ keys: { keys: [key.publicJwk] } }));
    router.get('/orders', (req, res) => void res.json(req.ipStamp));
    app.use('/api', router);
    const origin = await listen(app);
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/api/orders` });
    const res = await fetch(`${origin}/api/orders`, { headers: { 'client-ip-attestation': token } });
    expect(res.status).toBe(200);
  });

  it('the same middleware twice on one request (app-wide, then on the route) verifies once; a required one after an optional one still refuses a missing stamp', async () => {
    const key = await makeKey('HS256', 'twice');
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, required: false });
    const app = express();
    app.use(stamp);
    app.get('/orders', stamp, (req, res) => void res.json(req.ipStamp));
    app.get('/strict', ipstamp({ keys: { keys: [key.publicJwk] } }), (req, res) => void res.json(req.ipStamp));
    const origin = await listen(app);
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${origin}/orders` });
    const res = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': token } });
    expect([res.status, ((await res.json()) as Verdict).agreement]).toEqual([200, 'match']);
    const plain = await fetch(`${origin}/strict`);
    expect([plain.status, ((await plain.json()) as { reason: string }).reason]).toEqual([401, 'missing']);
  });

  it('req.ipStamp is typed on http.IncomingMessage and so on Express requests', () => {
    expectTypeOf<IncomingMessage['ipStamp']>().toEqualTypeOf<Verdict | null | undefined>();
    expectTypeOf<express.Request['ipStamp']>().toEqualTypeOf<Verdict | null | undefined>();
  });
});
