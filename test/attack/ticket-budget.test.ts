import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runAttacks, type AttackReport } from '../../server/attack/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MapReplayStore } from '../support/map-store.js';
import { startVerifierServer, type TestVerifierServer } from './verifier-server.js';

/**
 * The issuer's ticket route is rate limited per observed address (TicketRateLimiter: 429,
 * x-ratelimit-limit/-remaining/-reset, retry-after). A ticket run must budget that limit: it
 * never judges an attack on a 429, and a budget too small makes the run INCONCLUSIVE, naming
 * the limit — never UNSAFE. Each run comes from its own loopback address: its own bucket.
 */
const EDGE = 'http://edge.example';

interface Issuer {
  origin: string;
  jwks: { keys: JWK[] };
  app: FastifyInstance;
}

const opened: { close(): Promise<unknown> }[] = [];
afterAll(async () => {
  for (const thing of opened.reverse()) await thing.close();
});

async function startIssuer(rateLimit: number): Promise<Issuer> {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const key = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  const app = Fastify();
  await app.register(ipstamp, { keys: { keys: [] }, issuer: { key, origin: EDGE, rateLimit } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  opened.push(app);
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const jwks = (await (await fetch(`${origin}/.well-known/ipstamp/issuer-jwks`)).json()) as { keys: JWK[] };
  return { origin, jwks, app };
}

async function startTicketVerifier(issuer: Issuer): Promise<TestVerifierServer> {
  const server = await startVerifierServer({
    verify: createVerifierCore({ keys: { keys: [] }, issuers: { [EDGE]: issuer.jwks }, replayStore: new MapReplayStore() }).verify,
    proxyPeers: ['127.0.0.9'],
  });
  opened.push(server);
  return server;
}

type Report = AttackReport;

const judgedOn429 = (report: AttackReport): string[] =>
  report.results
    .filter((r) => r.verdict !== 'error' && r.outcomes.some((o) => o.kind === 'response' && o.status === 429))
    .map((r) => `${r.name}: ${r.verdict} ${r.got}`);

describe('a ticket run budgets the issuer rate limit', () => {
  it('5 per minute: the run plans within it, no attack is judged on a 429, the verdict is INCONCLUSIVE naming the limit; the next run learns it is spent', async () => {
    const issuer = await startIssuer(5);
    const verifier = await startTicketVerifier(issuer);
    const report = (await runAttacks({ target: verifier.url, issuer: issuer.origin, ticketWaitMs: 0, localAddress: '127.0.0.31' })) as Report;
    expect(judgedOn429(report)).toEqual([]);
    expect(report.results.filter((r) => r.verdict === 'fail' || r.verdict === 'warn').map((r) => `${r.name}: ${r.got}`)).toEqual([]);
    expect(report.verdict).toBe('INCONCLUSIVE');
    expect(report.exitCode).toBe(2);
    expect(report.inconclusive.join('\n')).toMatch(/rate limit.*\b5\b/);
    expect(report.ticketRequests).toMatchObject({ limit: 5 });
    expect(report.ticketRequests!.needed).toBeGreaterThan(5);
    expect(report.ticketRequests!.sent).toBeLessThanOrEqual(5);
    // the controls ran: what did run proves something
    expect(report.results.find((r) => r.name === 'control-ticket')).toMatchObject({ verdict: 'pass' });

    // the same address again within the minute: the window is spent, nothing is judged
    const again = (await runAttacks({ target: verifier.url, issuer: issuer.origin, ticketWaitMs: 0, localAddress: '127.0.0.31' })) as Report;
    expect(judgedOn429(again)).toEqual([]);
    expect(again.verdict).toBe('INCONCLUSIVE');
    expect(again.inconclusive.join('\n')).toMatch(/rate limit.*\b5\b/);
    expect(again.results.filter((r) => r.verdict === 'pass' || r.verdict === 'fail' || r.verdict === 'warn')).toEqual([]);
    // the held ticket, asked first, learns the window is spent: no applicable attack is started to meet a 429, the budget alone explains it
    expect(again.results.filter((r) => r.verdict !== 'skip' && r.got !== 'not run').map((r) => `${r.name}: ${r.got}`)).toEqual([]);
    expect(again.inconclusive).toHaveLength(1);
  });

  it('a limit as large as the plan: every ticket attack runs within it, SAFE', async () => {
    const probe = await startIssuer(5);
    const probeVerifier = await startTicketVerifier(probe);
    const planned = (await runAttacks({ target: probeVerifier.url, issuer: probe.origin, ticketWaitMs: 0, localAddress: '127.0.0.32' })) as Report;
    const needed = planned.ticketRequests!.needed;

    const issuer = await startIssuer(needed);
    const verifier = await startTicketVerifier(issuer);
    const report = (await runAttacks({ target: verifier.url, issuer: issuer.origin, ticketWaitMs: 0, localAddress: '127.0.0.33' })) as Report;
    expect(report.results.filter((r) => r.verdict !== 'pass' && r.verdict !== 'skip').map((r) => `${r.name}: ${r.got}`)).toEqual([]);
    expect(report.ticketRequests).toEqual({ needed, sent: needed, limit: needed, left: 0 });
    expect(report.verdict).toBe('SAFE');
    expect(report.exitCode).toBe(0);
  });
});
