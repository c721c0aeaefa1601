import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateStampKey, type StampKey } from '../../client/browser-key.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ReplayStoreFullError, type ReplayStore } from '../../server/stores/replay-store.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import type { IpStampPluginOptions } from '../../server/fastify/plugin.js';
import { buildApp } from './app.js';

/**
 * The plugin's ticket route, its limit and its replay store (review of the issuer, findings 2
 * and 5), through fastify.inject with chosen peer addresses. The route used @fastify/rate-limit,
 * whose store forgets the oldest of 5,000 keys: a /64 past its limit got a fresh budget within
 * its window once 5,000 others had asked. It now uses the same limiter as the node:http and
 * Hono adapters, which never forgets within its window; and a proof refused because the
 * replay store is full is counted and logged as "full", as a stamp is.
 */
const EDGE = 'http://edge.example';
const TICKET = '/.well-known/ipstamp/ticket';
let issuerKey: JWK;
let client: StampKey;

beforeAll(async () => {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
  client = await generateStampKey({ alg: 'ES256' });
});

async function edge(options: { rateLimit?: number | false; replayStore?: ReplayStore } = {}) {
  const plugin: IpStampPluginOptions = { keys: { keys: [] }, origins: [EDGE], issuer: { key: issuerKey, rateLimit: options.rateLimit } };
  if (options.replayStore !== undefined) plugin.replayStore = options.replayStore;
  return buildApp(plugin);
}

type App = Awaited<ReturnType<typeof edge>>['app'];

const ask = async (app: App, remoteAddress = '127.0.0.1') =>
  app.inject({
    method: 'POST',
    url: TICKET,
    remoteAddress,
    headers: { 'client-ip-attestation': await createTicketRequestProof(client, `${EDGE}${TICKET}`) },
  });

/** A request without a proof: refused 401 by the issuer, but counted first. */
const bare = async (app: App, remoteAddress: string) => (await app.inject({ method: 'POST', url: TICKET, remoteAddress })).statusCode;

describe('the plugin ticket route: its rate limit', () => {
  it('answers 429 rate-limited as problem+json past max from one address, stating the limit as before (x-ratelimit-*, retry-after)', async () => {
    const { app } = await edge({ rateLimit: 2 });
    const first = await ask(app);
    expect(first.statusCode).toBe(200);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '60' });
    expect((await ask(app)).headers['x-ratelimit-remaining']).toBe('0');
    const limited = await ask(app);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toBe('application/problem+json');
    expect(limited.headers['cache-control']).toBe('no-store');
    expect(limited.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'retry-after': '60' });
    expect(limited.json()).toEqual({ type: 'urn:ipstamp:rate-limited', title: 'Too many requests', status: 429, reason: 'rate-limited' });
    // another address has its own budget
    expect((await ask(app, '192.0.2.1')).statusCode).toBe(200);
    await app.close();
  });

  it('by default, 30 requests per observed address: the 31st is 429, and x-ratelimit-limit says 30', async () => {
    const { app } = await edge();
    const answers = [];
    for (let i = 0; i < 31; i++) answers.push(await app.inject({ method: 'POST', url: TICKET }));
    await app.close();
    expect(answers[0]!.headers['x-ratelimit-limit']).toBe('30');
    expect(answers.map((a) => a.statusCode)).toEqual([...Array<number>(30).fill(401), 429]);
  });

  it("behind a trusted proxy each client it names has its own budget; an untrusted peer's header names no one", async () => {
    const { app } = await buildApp({ keys: { keys: [] }, origins: [EDGE], trustedProxies: ['127.0.0.1'], issuer: { key: issuerKey, rateLimit: 1 } });
    const from = async (remoteAddress: string, client: string) =>
      (await app.inject({ method: 'POST', url: TICKET, remoteAddress, headers: { 'x-forwarded-for': client } })).statusCode;
    const statuses = [
      await from('127.0.0.1', '198.51.100.1'),
      await from('127.0.0.1', '198.51.100.1'),
      await from('127.0.0.1', '198.51.100.2'),
      // a peer that is no proxy: its own address counts, whatever it writes
      await from('192.0.2.9', '198.51.100.3'),
      await from('192.0.2.9', '198.51.100.4'),
    ];
    await app.close();
    expect(statuses).toEqual([401, 429, 401, 401, 429]);
  });

  it('rateLimit: false states and enforces no limit', async () => {
    const { app } = await edge({ rateLimit: false });
    for (let i = 0; i < 40; i++) expect(await bare(app, '127.0.0.1')).toBe(401);
    expect((await app.inject({ method: 'POST', url: TICKET })).headers).not.toHaveProperty('x-ratelimit-limit');
    await app.close();
  });

  it('a /64 past its limit stays limited for its window after 6,000 other /64s asked (the LRU of 5,000 forgot it)', async () => {
    const { app } = await edge({ rateLimit: 3 });
    const limited = '2001:db8:aaaa:1::1';
    const first: number[] = [];
    for (let i = 0; i < 4; i++) first.push(await bare(app, limited));
    expect(first).toEqual([401, 401, 401, 429]);
    for (let j = 0; j < 6_000; j++) await bare(app, `2001:db8:bbbb:${j.toString(16)}::1`);
    expect(await bare(app, limited)).toBe(429);
    expect(await bare(app, '2001:db8:aaaa:1:ffff::2')).toBe(429); // the same /64
    // a newcomer after the flood still gets its ticket
    expect((await ask(app, '2001:db8:cccc:1::1')).statusCode).toBe(200);
    await app.close();
  }, 60_000);
});

describe('the plugin ticket route: a full replay store', () => {
  it('a proof refused because the store is full counts storeFull and logs "replay store FULL", as a stamp does', async () => {
    const { app, log } = await edge({ replayStore: new MemoryReplayStore({ maxEntries: 1 }) });
    expect((await ask(app)).statusCode).toBe(200);
    const refused = await ask(app);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ reason: 'store-unavailable' });
    const counters = app.ipstamp.metrics();
    expect(counters.rejected['store-unavailable']).toBe(1);
    expect(counters.storeFull).toBe(1);
    expect(app.ipstamp.prometheus()).toContain('ipstamp_replay_store_full_total 1');
    const full = log.lines.filter((l) => String(l.msg).includes('replay store FULL'));
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ level: 40, ipstamp: { ticket: 'refused', reason: 'store-unavailable', store: 'full' } });
    await app.close();
  });

  it('a store that rejects full (as Redis at maxmemory) counts as full too; one that fails otherwise does not', async () => {
    const full: ReplayStore = { insertIfAbsent: () => Promise.reject(new ReplayStoreFullError()) };
    const { app: fullApp } = await edge({ replayStore: full });
    expect((await ask(fullApp)).statusCode).toBe(503);
    expect(fullApp.ipstamp.metrics()).toMatchObject({ storeFull: 1, rejected: { 'store-unavailable': 1 } });
    await fullApp.close();

    const down: ReplayStore = {
      insertIfAbsent: () => {
        throw new Error('connection refused');
      },
    };
    const { app: downApp, log } = await edge({ replayStore: down });
    expect((await ask(downApp)).statusCode).toBe(503);
    expect(downApp.ipstamp.metrics()).toMatchObject({ storeFull: 0, rejected: { 'store-unavailable': 1 } });
    expect(log.text()).not.toContain('FULL');
    expect(log.text()).toContain('ipstamp: ticket refused');
    await downApp.close();
  });
});
