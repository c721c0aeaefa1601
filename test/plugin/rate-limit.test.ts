import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
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
