import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper, generateStampKey } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { rateLimitKeyOf } from '../../server/fastify/rate-limit-key.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { buildApp } from './app.js';

/**
 * The real @fastify/rate-limit keyed by rateLimitKeyOf, through fastify.inject with chosen
 * peers (`remoteAddress`): one IPv6 /64 is one budget, and a stamp's claimed address never
 * chooses the budget.
 */
let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('EdDSA', 'client-ed');
});

type Hook = 'onRequest' | 'preHandler';
async function limitedApp(hook: Hook, extra: { onMismatch?: 'flag' } = {}) {
  return buildApp({ keys: { keys: [key.publicJwk] }, replayStore: new MemoryReplayStore(), ...extra }, async (app) => {
    // before the plugin, as the app's own global limiter would be; the keyGenerator reads the
    // verdict at preHandler, the hints at onRequest
    await app.register(rateLimit, { max: 2, timeWindow: 60_000, hook, keyGenerator: (request) => rateLimitKeyOf(request) });
  });
}

const stamp = (ip: string) => createStamper({ key: key.privateJwk, ip }).stamp({ method: 'GET', url: 'http://localhost:80/orders' });
type App = Awaited<ReturnType<typeof limitedApp>>['app'];
const get = async (app: App, remoteAddress: string, url = '/optional', claim?: string) => {
  const headers = claim === undefined ? {} : { 'client-ip-attestation': await stamp(claim) };
  return (await app.inject({ url, remoteAddress, headers })).statusCode;
};

describe('@fastify/rate-limit keyed by rateLimitKeyOf', () => {
  for (const hook of ['onRequest', 'preHandler'] as const) {
    it(`${hook}: two addresses in one /64 share a budget; another /64 and an IPv4 peer have their own`, async () => {
      const { app } = await limitedApp(hook);
      expect(await get(app, '2001:db8:1:2::a', '/orders', '2001:db8:1:2::a')).toBe(200);
      expect(await get(app, '2001:db8:1:2::b')).toBe(200);
      expect(await get(app, '2001:db8:1:2:ffff::1', '/orders', '2001:db8:1:2:ffff::1')).toBe(429);
      expect(await get(app, '2001:db8:1:3::a')).toBe(200);
      expect(await get(app, '::ffff:127.0.0.2')).toBe(200);
      expect(await get(app, '127.0.0.2')).toBe(200);
      expect(await get(app, '127.0.0.2')).toBe(429); // the mapped and the plain spelling are one peer
    });
  }

  it('preHandler with onMismatch flag: a key holder rotating its claimed address stays in its peer budget', async () => {
    const { app } = await limitedApp('preHandler', { onMismatch: 'flag' });
    const answers = [];
    for (const claim of ['198.51.100.1', '198.51.100.2', '2001:db8:9::1']) answers.push(await get(app, '127.0.0.3', '/orders', claim));
    expect(answers).toEqual([200, 200, 429]);
  });

  it('onRequest counts refused stamps too (a bad-stamp flood meets the limit); preHandler runs after refusals and does not', async () => {
    const early = (await limitedApp('onRequest')).app;
    const late = (await limitedApp('preHandler')).app;
    const flood = async (app: App) => {
      const answers = [];
      for (let i = 0; i < 3; i++)
        answers.push((await app.inject({ url: '/orders', remoteAddress: '127.0.0.4', headers: { 'client-ip-attestation': 'x.y.z' } })).statusCode);
      return answers;
    };
    expect(await flood(early)).toEqual([401, 401, 429]);
    expect(await flood(late)).toEqual([401, 401, 401]);
  });

  it('without the ipstamp plugin: a TypeError naming the plugin, answered 500', async () => {
    const app = Fastify();
    await app.register(rateLimit, { max: 2, timeWindow: 60_000, keyGenerator: (request) => rateLimitKeyOf(request) });
    app.get('/', async () => 'ok');
    const res = await app.inject('/');
    expect(res.statusCode).toBe(500);
    expect(res.json().message).toMatch(/ipstamp plugin/);
  });
});

describe('rateLimitKeyOf, read from hooks', () => {
  it('passes its options on, before verification (the hints) and after it (the verdict)', async () => {
    const seen: string[] = [];
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (pre) => {
      pre.addHook('onRequest', async (request) => void seen.push(`onRequest ${rateLimitKeyOf(request, { ipv6Prefix: 48 })}`));
      pre.addHook('preHandler', async (request) => void seen.push(`preHandler ${rateLimitKeyOf(request, { ipv6Prefix: 48 })}`));
    });
    const peer = '2001:db8:1:2::7';
    const res = await app.inject({ url: '/orders', remoteAddress: peer, headers: { 'client-ip-attestation': await stamp(peer) } });
    await app.close();
    expect(res.json().ipStamp.agreement).toBe('match');
    expect(seen).toEqual(['onRequest 2001:db8:1::/48', 'preHandler 2001:db8:1::/48']);
  });

  it("after verification, a ticket's address when this verifier sees no client address (every hop trusted), not the proxy's", async () => {
    const EDGE = 'http://edge.example';
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    const client = await generateStampKey({ alg: 'ES256' });
    const { app: edge } = await buildApp({ keys: { keys: [] }, origins: [EDGE], issuer: { key: issuerKey } });
    const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`);
    const issued = await edge.inject({
      method: 'POST',
      url: '/.well-known/ipstamp/ticket',
      remoteAddress: '198.51.100.7',
      headers: { 'client-ip-attestation': proof },
    });
    const { ticket } = issued.json() as { ticket: string };
    const jwks = (await edge.inject('/.well-known/ipstamp/issuer-jwks')).json();
    await edge.close();
    const seen: string[] = [];
    const { app: api } = await buildApp({ keys: { keys: [] }, issuers: { [EDGE]: jwks }, trustedProxies: ['127.0.0.1'] }, (pre) => {
      pre.addHook('preHandler', async (request) => void seen.push(rateLimitKeyOf(request)));
    });
    const token = await createStamper({ key: client, ip: '198.51.100.7' }).stamp({
      method: 'GET',
      url: 'http://localhost:80/orders',
      claims: { obs: 'ticket', tth: createHash('sha256').update(ticket).digest('base64url') },
    });
    const res = await api.inject({ url: '/orders', headers: { 'client-ip-ticket': ticket, 'client-ip-attestation': token } });
    await api.close();
    expect(res.json().ipStamp).toMatchObject({ source: 'ticket', agreement: 'unverifiable', ip: '198.51.100.7' });
    expect(seen).toEqual(['198.51.100.7']);
  });
});
