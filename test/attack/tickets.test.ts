import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttacks, TICKET_ATTACK_CATALOG, type AttackReport } from '../../server/attack/index.js';
import { decodeSegment } from '../../server/attack/catalog/forge.js';
import { issuedTicketOf } from '../../server/attack/ticket-tools.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import type { TicketVerifier } from '../../server/verify/ticket-verifier.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { compiledOptionsOf } from '../../server/verify/verifier.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { scratchDir, startServe, runCli, type RunningServe } from '../support/cli-process.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { startVerifierServer, type TestVerifierServer } from './verifier-server.js';

/**
 * The ticket attacks (PROTOCOL §7) against an issuer — the plugin, trusting only the
 * "load balancer" 127.0.0.9 — and a verifier that trusts it but cannot see the client itself
 * (it trusts all of loopback, as one behind a hop would): the ticket alone vouches for the address.
 */
const EDGE = 'http://edge.example';
const LOAD_BALANCER = '127.0.0.9';

const names = (report: AttackReport, verdict: string): string[] =>
  report.results
    .filter((r) => r.verdict === verdict)
    .map((r) => r.name)
    .sort();
const TICKET_NAMES = TICKET_ATTACK_CATALOG.map((a) => a.name);

let issuerKey: JWK;
let issuerJwks: { keys: JWK[] };
let issuer: FastifyInstance;
let issuerOrigin: string;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  issuer = Fastify();
  // a 2 s lifetime: the expired-ticket attack waits for one to run out
  await issuer.register(ipstamp, { keys: { keys: [] }, trustedProxies: [LOAD_BALANCER], issuer: { key: issuerKey, origin: EDGE, lifetime: 2 } });
  await issuer.listen({ host: '127.0.0.1', port: 0 });
  issuerOrigin = `http://127.0.0.1:${(issuer.server.address() as AddressInfo).port}`;
  issuerJwks = (await (await fetch(`${issuerOrigin}/.well-known/ipstamp/issuer-jwks`)).json()) as { keys: JWK[] };
});
afterAll(() => issuer?.close());

/** Holes a ticket verifier can have, each one check of §7.4 left out. TEST ONLY. */
type TicketHole = 'none' | 'ignore-tth' | 'ignore-ticket-ip' | 'ignore-ticket-expiry';

function claimsOf(input: VerifyInput): Record<string, unknown> {
  const token = input.headers['client-ip-attestation'];
  try {
    return JSON.parse(Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** The real core; for a hole, its ticket check is wrapped per request to forget one fact of the ticket. */
function ticketVerifier(hole: TicketHole): (input: VerifyInput) => Promise<VerifyResult> {
  const base: VerifierOptions = {
    keys: { keys: [] },
    issuers: { [EDGE]: issuerJwks },
    replayStore: new MapReplayStore(),
    trustedProxies: ['loopback'],
    skew: 0,
  };
  if (hole === 'none') return createVerifierCore(base).verify;
  return (input) => {
    const core = createVerifierCore(base);
    const options = compiledOptionsOf(core) as { verifyTicket: TicketVerifier };
    const real = options.verifyTicket;
    const claims = claimsOf(input);
    options.verifyTicket = async (raw, nowMs) => {
      if (hole === 'ignore-ticket-expiry') {
        const iat = Number(JSON.parse(Buffer.from(String(raw).split('.')[1] ?? '', 'base64url').toString() || '{}').iat);
        return real(raw, Number.isFinite(iat) ? iat * 1000 : nowMs);
      }
      const ticket = await real(raw, nowMs);
      if (!ticket) return ticket;
      return hole === 'ignore-tth' ? { ...ticket, tth: claims.tth as string } : { ...ticket, ip: claims.ip as string };
    };
    return core.verify(input);
  };
}

async function withVerifier<T>(hole: TicketHole, run: (server: TestVerifierServer) => Promise<T>): Promise<T> {
  const server = await startVerifierServer({ verify: ticketVerifier(hole), proxyPeers: [LOAD_BALANCER] });
  try {
    return await run(server);
  } finally {
    await server.close();
  }
}

describe('ticket attacks against the plugin issuer and a verifier behind a hop', () => {
  it('without a client key only the ticket attacks run; every one is rejected for the predicted reason, the controls accepted', async () => {
    await withVerifier('none', async (server) => {
      const report = await runAttacks({ target: server.url, issuer: issuerOrigin, proxyAddress: LOAD_BALANCER, skew: 0, localAddress: '127.0.0.2' });
      expect(report.ticketIssuer).toBe(`${issuerOrigin}/.well-known/ipstamp/ticket`);
      expect(report.results.map((r) => r.name)).toEqual(TICKET_NAMES);
      expect({ fail: names(report, 'fail'), warn: names(report, 'warn'), error: names(report, 'error'), skip: names(report, 'skip') }).toEqual({
        fail: [],
        warn: [],
        error: [],
        skip: [],
      });
      expect(report.exitCode).toBe(0);
      expect(report.alg).toBe('ES256');
      expect(report.kid).toMatch(/^[A-Za-z0-9_-]{43}$/); // the harness's own key: its thumbprint
      const got = Object.fromEntries(report.results.map((r) => [r.name, r.got]));
      expect(got).toMatchObject({
        'control-ticket': '200 accepted (unverifiable)',
        'control-ticket-eddsa': '200 accepted (unverifiable)',
        'ticket-request-hmac': '401 bad-header',
        'ticket-request-key-not-signer': '401 bad-signature',
        'ticket-request-replay': '401 replay',
        'ticket-request-from-trusted-hop': '403 ip-unverifiable',
        'ticket-request-unknown-forwarded': '403 ip-unverifiable',
        'ticket-other-key': '401 unknown-key',
        'ticket-stolen': '401 bad-signature',
        'ticket-unknown-issuer': '401 bad-ticket',
        'ticket-ip-differs': '401 binding-mismatch',
        'ticket-other-tth': '401 binding-mismatch',
        'ticket-expired': '401 bad-ticket',
      });
    });
  });

  const GETS_THROUGH: Readonly<Record<Exclude<TicketHole, 'none'>, readonly string[]>> = {
    'ignore-tth': ['ticket-no-tth', 'ticket-other-tth'],
    // the verifier cannot see the client: only the ticket's ip stood between the stamp and a forged address
    'ignore-ticket-ip': ['ticket-ip-differs', 'ticket-spoofed-forwarding-at-issuer'],
    'ignore-ticket-expiry': ['ticket-expired'],
  };
  for (const [hole, through] of Object.entries(GETS_THROUGH) as [Exclude<TicketHole, 'none'>, readonly string[]][]) {
    it(`a verifier with the hole ${hole}: exactly ${through.join(', ')} get through`, async () => {
      await withVerifier(hole, async (server) => {
        const only = hole === 'ignore-ticket-expiry' ? ['control-ticket', 'ticket-expired'] : undefined;
        const local = `127.0.0.${3 + Object.keys(GETS_THROUGH).indexOf(hole)}`;
        const report = await runAttacks({ target: server.url, issuer: issuerOrigin, skew: 0, localAddress: local, ...(only ? { only } : { ticketWaitMs: 0 }) });
        expect(names(report, 'fail')).toEqual([...through].sort());
        expect(names(report, 'warn')).toEqual([]);
        expect(report.exitCode).toBe(1);
      });
    });
  }

  it('a verifier that does not trust the issuer: the ticket controls fail and the report says what to check', async () => {
    const server = await startVerifierServer({
      verify: createVerifierCore({ keys: { keys: [] }, issuers: { 'http://other.example': issuerJwks }, replayStore: new MapReplayStore() }).verify,
      proxyPeers: [LOAD_BALANCER],
    });
    try {
      const report = await runAttacks({ target: server.url, issuer: issuerOrigin, only: ['control-ticket'], localAddress: '127.0.0.6' });
      expect(report.results[0]).toMatchObject({ verdict: 'fail', got: '401 bad-ticket' });
      expect(report.notes.join(' ')).toMatch(/trusts the issuer/);
    } finally {
      await server.close();
    }
  });

  it('no key and no issuer: a setup error; ticket attacks named with only say why they cannot apply', async () => {
    await withVerifier('none', async (server) => {
      await expect(runAttacks({ target: server.url })).rejects.toMatchObject({ problem: 'no-issuer' });
      const key = await makeKey('ES256');
      const report = await runAttacks({ target: server.url, key: key.privateJwk, only: ['ticket-stolen'] });
      expect(report.results[0]).toMatchObject({ verdict: 'skip', note: expect.stringMatching(/issues no tickets/) });
    });
  });
});

describe('ipstamp attack against ipstamp serve as issuer and verifier (processes)', () => {
  const scratch = scratchDir();
  let serve: RunningServe | undefined;
  let ticketsOnly: RunningServe | undefined;
  afterAll(async () => {
    await serve?.stop();
    await ticketsOnly?.stop();
    scratch.cleanup();
  });

  it('serve --proxy-protocol --issuer-key with --issuers naming itself: the whole catalog and the ticket attacks, exit 0; a tickets-only serve likewise', async () => {
    const client = await makeKey('ES256', 'cli-client');
    const issuers = scratch.file('issuers.json', { [EDGE]: issuerJwks });
    serve = await startServe([
      '--port',
      '0',
      '--keys',
      scratch.file('keys.json', { keys: [client.publicJwk] }),
      '--trusted-proxies',
      LOAD_BALANCER,
      '--proxy-protocol',
      '--issuer-key',
      scratch.file('issuer.json', issuerKey),
      '--issuer-origin',
      EDGE,
      '--issuers',
      issuers,
      '--ticket-lifetime',
      '2',
      '--skew',
      '1',
      '--log-level',
      'warn',
    ]);
    const run = await runCli(['attack', '--target', `${serve.url}/orders`, '--key', scratch.file('client.json', client.privateJwk), '--skew', '1', '--json'], {
      timeoutMs: 20_000,
    });
    const report = JSON.parse(run.stdout) as AttackReport;
    expect(report.results.filter((r) => r.verdict !== 'pass' && r.verdict !== 'skip').map((r) => `${r.name}: ${r.got}`)).toEqual([]);
    expect(run.code).toBe(0);
    const got = Object.fromEntries(report.results.map((r) => [r.name, r.got]));
    expect(got).toMatchObject({ 'control-get': '200 accepted (match)', 'control-ticket': '200 accepted (match, ticket)', 'ticket-expired': '401 bad-ticket' });
    // not for an ES256 client key; and its proxies must send a PROXY header, so the harness cannot play one (library tests do)
    expect(names(report, 'skip')).toEqual(['alg-swap-hmac', 'replay-ed25519-twin', 'ticket-request-from-trusted-hop', 'ticket-request-unknown-forwarded']);
    expect(report.results.filter((r) => r.tags.includes('ticket'))).toHaveLength(TICKET_NAMES.length);

    // a verifier with no client keys at all, trusting that issuer: no --key, the ticket attacks alone
    ticketsOnly = await startServe(['--port', '0', '--issuers', issuers, '--log-level', 'warn']);
    const alone = await runCli([
      'attack',
      '--target',
      `${ticketsOnly.url}/orders`,
      '--issuer',
      serve.url,
      '--ticket-wait',
      '0',
      '--local-address',
      '127.0.0.7',
    ]);
    expect(alone.stdout).toMatch(new RegExp(`^  tickets from ${serve.url}/.well-known/ipstamp/ticket$`, 'm'));
    expect(alone.stdout).toMatch(/^\s+control-ticket\s+accept 2xx\s+200 accepted \(match, ticket\)\s+PASS$/m);
    expect(alone.stdout).toMatch(/^\s+ticket-stolen\s+reject 401 bad-signature\s+401 bad-signature\s+PASS$/m);
    expect(alone.stdout).toMatch(/^\s+ticket-expired\s+reject 401 bad-ticket\s+not applicable\s+SKIP$/m);
    expect(alone.stdout).toMatch(new RegExp(`${TICKET_NAMES.length} attacks: ${TICKET_NAMES.length - 3} passed, 0 failed, 3 not applicable`));
    expect(alone.code).toBe(0);
  }, 30_000);
});

describe("reading an issuer's answer (the harness trusts no target)", () => {
  it('any body: a ticket with a canonical ip and an integer exp, or undefined — never a throw', () => {
    const ticketish = fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.'));
    const body = fc.oneof(
      fc.string(),
      fc
        .record({
          ticket: fc.oneof(ticketish, fc.string(), fc.integer()),
          ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
          exp: fc.oneof(fc.integer(), fc.double(), fc.string()),
        })
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(body, (text) => {
        const issued = issuedTicketOf(text);
        if (issued === undefined) return;
        expect(Number.isSafeInteger(issued.exp)).toBe(true);
        expect(issued.ticket.split('.')).toHaveLength(3);
        expect(issued.tth).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }),
    );
    expect(issuedTicketOf(JSON.stringify({ ticket: 'a.b.c', ip: '::ffff:127.0.0.1', exp: 1 }))).toBeUndefined(); // not canonical
    expect(issuedTicketOf(JSON.stringify({ ticket: `${'a'.repeat(2100)}.b.c`, ip: '127.0.0.1', exp: 1 }))).toBeUndefined(); // over 2048 bytes
  });

  it('decodeSegment: any text gives a plain object, never a throw', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom(0 as const, 1 as const), (token, index) => {
        const value = decodeSegment(token, index);
        expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
      }),
    );
  });
});
