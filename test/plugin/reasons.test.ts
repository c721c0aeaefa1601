import type { FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import type { IpStampPluginOptions } from '../../server/fastify/plugin.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { REASON_STATUS } from '../../shared/reasons.js';
import { REASON_TITLES, REASONS, type Reason } from '../../shared/reasons.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';
import { buildApp } from './app.js';

const NOW = 1_764_000_000_000;
const iat = NOW / 1000;
const HOST = 'api.example.com';
const L3 = '127.0.0.1'; // what fastify.inject reports as the socket peer

let es: TestKeyPair;
let fenced: TestKeyPair; // a key whose allowed_ips exclude the client
let forger: TestKeyPair;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  es = await makeKey('ES256', 'client-es');
  fenced = await makeKey('HS256', 'client-fenced');
  forger = await makeKey('ES256', 'client-es');
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const claims = (over: Record<string, unknown> = {}) => ({
  ip: L3,
  iat,
  jti: `jti-${Math.random().toString(36).slice(2)}-0123456789abcdef`.replace(/\./g, ''),
  htm: 'GET',
  htu: `http://${HOST}/orders`,
  ...over,
});
const header = (over: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'client-es', ...over });
const good = (over: Record<string, unknown> = {}) => signRaw(es.privateJwk, header(), claims(over));

async function start(over: Partial<IpStampPluginOptions> = {}): Promise<FastifyInstance> {
  ({ app } = await buildApp({
    keys: { keys: [es.publicJwk, { ...fenced.publicJwk, allowed_ips: ['198.51.100.0/24'] }] },
    now: () => NOW,
    ...over,
  }));
  return app;
}

async function send(a: FastifyInstance, token: string | undefined, url = '/orders') {
  const headers: Record<string, string> = { host: HOST };
  if (token !== undefined) headers['client-ip-attestation'] = token;
  return a.inject({ method: 'GET', url, headers });
}

const CASES: Record<Exclude<Reason, 'bad-ticket'>, () => Promise<Awaited<ReturnType<typeof send>>>> = {
  missing: async () => send(await start(), undefined),
  malformed: async () => send(await start(), 'not-a-jws'),
  'bad-header': async () => send(await start(), signRaw(es.privateJwk, header({ typ: 'JWT' }), claims())),
  'unknown-key': async () => send(await start(), signRaw(es.privateJwk, header({ kid: 'nobody' }), claims())),
  'bad-signature': async () => send(await start(), signRaw(forger.privateJwk, header(), claims())),
  'bad-claims': async () => send(await start(), good({ ip: '::ffff:127.0.0.1' })),
  'not-yet-valid': async () => send(await start(), good({ iat: iat + 60 })),
  expired: async () => send(await start(), good({ iat: iat - 60 })),
  'binding-mismatch': async () => send(await start(), good({ htu: `http://${HOST}/elsewhere` })),
  replay: async () => {
    const a = await start();
    const token = good();
    expect((await send(a, token)).statusCode).toBe(200);
    return send(a, token);
  },
  'ip-not-allowed': async () => send(await start(), signRaw(fenced.privateJwk, header({ alg: 'HS256', kid: 'client-fenced' }), claims())),
  'ip-mismatch': async () => send(await start(), good({ ip: '203.0.113.9' })),
  'ip-unverifiable': async () => send(await start({ trustedProxies: ['127.0.0.1'] }), good()),
  'store-unavailable': async () => {
    const broken: ReplayStore = { insertIfAbsent: () => Promise.reject(new Error('connection refused')) };
    return send(await start({ replayStore: broken }), good());
  },
};

describe('the plugin answers every reachable reason as PROTOCOL §5 problem+json', () => {
  it('covers every reason code except bad-ticket (tickets are not verified by the core yet)', () => {
    expect(Object.keys(CASES).sort()).toEqual(REASONS.filter((r) => r !== 'bad-ticket').sort());
  });

  for (const [reason, run] of Object.entries(CASES) as [Reason, () => ReturnType<typeof send>][]) {
    it(`${reason} → ${REASON_STATUS[reason]} with exactly the four members`, async () => {
      const response = await run();
      expect(response.statusCode).toBe(REASON_STATUS[reason]);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(response.body)).toStrictEqual({
        type: `urn:ipstamp:${reason}`,
        title: REASON_TITLES[reason],
        status: REASON_STATUS[reason],
        reason,
      });
    });
  }

  it('accepts a good stamp and hands the verdict to the handler as request.ipStamp', async () => {
    const a = await start();
    const stamper = createStamper({ key: es.privateJwk, ip: L3, now: () => NOW });
    const token = await stamper.stamp({ method: 'GET', url: `http://${HOST}/orders?page=2` });
    const response = await a.inject({ method: 'GET', url: '/orders?page=2', headers: { host: HOST, 'client-ip-attestation': token } });
    expect(response.statusCode).toBe(200);
    expect(response.json().ipStamp).toMatchObject({ ip: L3, agreement: 'match', kid: 'client-es', hints: { l3: L3, observed: L3 } });
  });

  it("onMismatch 'flag' accepts a disagreeing stamp with agreement mismatch", async () => {
    const response = await send(await start({ onMismatch: 'flag' }), good({ ip: '203.0.113.9' }));
    expect(response.statusCode).toBe(200);
    expect(response.json().ipStamp).toMatchObject({ ip: '203.0.113.9', agreement: 'mismatch' });
  });

  it('an unknown path without a stamp is 401 missing, not 404: route existence does not leak', async () => {
    const response = await send(await start(), undefined, '/no-such-route');
    expect(response.statusCode).toBe(401);
    expect(response.json().reason).toBe('missing');
  });
});
