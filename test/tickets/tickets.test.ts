import { createHash } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof, ticketKid, type TicketKey } from '../../client/ticket-proof.js';
import { createTicketIssuer, type TicketIssuer } from '../../server/issuer/issuer.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import type { ClientPublicJwk, TicketAlg } from '../../shared/ticket-schema.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

const EDGE = 'https://edge.example.com';
const API = 'https://api.example.com';
const CLIENT_IP = '127.0.0.5';
const PROXY = '127.0.0.1';

interface ClientKey extends TicketKey {
  kid: string;
  privateJwk: JWK;
}
async function clientKey(alg: TicketAlg): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const publicJwk = (await exportJWK(publicKey)) as ClientPublicJwk;
  return { privateKey, publicJwk, alg, kid: await ticketKid(publicJwk), privateJwk: await exportJWK(privateKey) };
}

let issuerJwk: JWK;
let otherIssuerJwk: JWK;
let issuer: TicketIssuer;
let es: ClientKey;
let ed: ClientKey;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  issuerJwk = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  const other = await generateKeyPair('ES256', { extractable: true });
  otherIssuerJwk = { ...(await exportJWK(other.privateKey)), kid: 'edge-1', alg: 'ES256' };
  issuer = createTicketIssuer({ key: issuerJwk, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore() });
  es = await clientKey('ES256');
  ed = await clientKey('EdDSA');
});

/** Asks the issuer for a ticket as a client at 127.0.0.5 would (no proxies in front of the edge). */
async function getTicket(key: ClientKey, over: Partial<VerifyInput> = {}, withIssuer = issuer) {
  const proof = await createTicketRequestProof(key, `${EDGE}/.well-known/ipstamp/ticket`);
  return withIssuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
    hints: { l3: CLIENT_IP },
    ...over,
  });
}

async function ticketOf(key: ClientKey): Promise<string> {
  const r = await getTicket(key);
  if (!r.ok) throw new Error(`no ticket: ${r.reason}`);
  return r.ticket;
}

const tthOf = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');

/** The verifier behind a proxy it trusts: it cannot see the client, only the ticket can tell. */
function apiVerifier(issuers: Record<string, unknown> = { [EDGE]: issuer.jwks }, over = {}) {
  return createVerifierCore({
    keys: { keys: [] },
    issuers: issuers as never,
    replayStore: new MapReplayStore(),
    trustedProxies: ['127.0.0.1/32'],
    origins: [API],
    ...over,
  });
}

async function stampWith(key: ClientKey, ticket: string, claims: Record<string, unknown> = {}, kid = key.kid) {
  const stamper = createStamper({ key: { key: key.privateKey as CryptoKey, kid, alg: key.alg }, ip: '127.0.0.5' });
  return stamper.stamp({ method: 'GET', url: `${API}/orders`, claims: { obs: 'ticket', tth: tthOf(ticket), ...claims } });
}

function send(v: ReturnType<typeof apiVerifier>, stamp: string, ticket: string | string[] | undefined, l3 = PROXY): Promise<VerifyResult> {
  const headers: Record<string, string | string[]> = { host: 'api.example.com', 'client-ip-attestation': stamp };
  if (ticket !== undefined) headers['client-ip-ticket'] = ticket;
  return v.verify({ method: 'GET', url: '/orders', headers, hints: { l3 } });
}
const reason = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);

describe('issuer (PROTOCOL §7.1)', () => {
  it('signs the address it observed, bound to the client key, for ES256 and EdDSA clients', async () => {
    for (const key of [es, ed]) {
      const r = await getTicket(key);
      expect(r).toMatchObject({ ok: true, ip: CLIENT_IP });
      if (!r.ok) return;
      const [h, p] = r.ticket.split('.');
      expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' });
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      expect(claims).toMatchObject({ iss: EDGE, ip: CLIENT_IP, cnf: { jwk: { kty: key.publicJwk.kty, x: key.publicJwk.x } } });
      expect(claims.exp - claims.iat).toBe(300);
      expect(r.ticket.length).toBeLessThanOrEqual(2048);
    }
  });

  it('answers ip-unverifiable when the client cannot be observed (an untrusted proxy path leaves observed undefined)', async () => {
    const behind = createTicketIssuer({ key: issuerJwk, origins: [EDGE], replayStore: new MapReplayStore(), trustedProxies: ['loopback'] });
    const proof = await createTicketRequestProof(es, `${EDGE}/.well-known/ipstamp/ticket`);
    const res = await behind.issue({
      method: 'POST',
      url: '/.well-known/ipstamp/ticket',
      headers: { host: 'edge.example.com', 'client-ip-attestation': proof, 'x-forwarded-for': 'unknown' },
      hints: { l3: '127.0.0.1' },
    });
    expect(res).toMatchObject({ ok: false, reason: 'ip-unverifiable', status: 403 });
  });

  it('refuses an HMAC proof, a proof without jwk, and a replayed proof', async () => {
    const hmac = signRaw({ k: Buffer.alloc(32, 1).toString('base64url') }, { alg: 'HS256', typ: 'ipstamp-ticket-req+jwt', jwk: es.publicJwk }, {}, 'HS256');
    const noJwk = signRaw(es.privateJwk as never, { alg: 'ES256', typ: 'ipstamp-ticket-req+jwt' }, {}, 'ES256');
    for (const proof of [hmac, noJwk]) {
      const r = await issuer.issue({
        method: 'POST',
        url: '/.well-known/ipstamp/ticket',
        headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
        hints: { l3: CLIENT_IP },
      });
      expect(reason(r as never)).toBe('bad-header');
    }
    const proof = await createTicketRequestProof(es, `${EDGE}/.well-known/ipstamp/ticket`);
    const input = {
      method: 'POST',
      url: '/.well-known/ipstamp/ticket',
      protocol: 'https' as const,
      headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
      hints: { l3: CLIENT_IP },
    };
    expect((await issuer.issue(input)).ok).toBe(true);
    const replayed = await issuer.issue(input);
    expect(reason(replayed as never)).toBe('replay');
    // the refusal's error: the reason's IpStampError, built without a stack trace (shared/errors.ts)
    expect(replayed.ok ? undefined : [replayed.error.code, /\n\s+at /.test(replayed.error.stack ?? '')]).toEqual(['ERR_IPSTAMP_REPLAY', false]);
  });

  it('refuses a bad issuer key or lifetime at creation', () => {
    expect(() => createTicketIssuer({ key: { kty: 'oct', k: 'x', kid: 'a', alg: 'HS256' }, replayStore: new MapReplayStore() })).toThrow(TypeError);
    expect(() => createTicketIssuer({ key: issuerJwk, lifetime: 601, replayStore: new MapReplayStore() })).toThrow(/lifetime/);
  });

  it('the issuer origin is the option origin: a bad one, or the old name issuer, is refused naming it', () => {
    expect(() => createTicketIssuer({ key: issuerJwk, origin: 'edge.example', replayStore: new MapReplayStore() })).toThrow(
      /^origin must be an http\(s\) origin/,
    );
    const renamed = { key: issuerJwk, issuer: EDGE, replayStore: new MapReplayStore() } as unknown as Parameters<typeof createTicketIssuer>[0];
    expect(() => createTicketIssuer(renamed)).toThrow(new TypeError('issuer is now called origin (the issuer origin written as iss)'));
  });

  it('an unknown option is refused naming it: a typo never keeps a default', () => {
    const typo = { key: issuerJwk, lifetme: 60, replayStore: new MapReplayStore() } as unknown as Parameters<typeof createTicketIssuer>[0];
    expect(() => createTicketIssuer(typo)).toThrow(new TypeError('unknown option "lifetme" (did you mean "lifetime"?)'));
    // a verifier option the issuer has no use for is unknown to it too
    const keys = { key: issuerJwk, keys: { keys: [] }, replayStore: new MapReplayStore() } as unknown as Parameters<typeof createTicketIssuer>[0];
    expect(() => createTicketIssuer(keys)).toThrow(/^unknown option "keys"/);
  });
});

describe('verifying a stamp with a ticket (PROTOCOL §7.3–7.4)', () => {
  it('accepts without any registered key, with source ticket and the issuer, behind a trusted proxy', async () => {
    for (const key of [es, ed]) {
      const ticket = await ticketOf(key);
      const r = await send(apiVerifier(), await stampWith(key, ticket), ticket);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.verdict).toMatchObject({ ip: CLIENT_IP, source: 'ticket', issuer: EDGE, kid: key.kid, agreement: 'unverifiable' });
    }
  });

  it('a ticket cannot vouch for a request whose peer is unknown (reset connection): ip-unverifiable', async () => {
    for (const l3 of [undefined, null, '0.0.0.0', '::']) {
      const ticket = await ticketOf(es);
      const headers = { host: 'api.example.com', 'client-ip-attestation': await stampWith(es, ticket), 'client-ip-ticket': ticket };
      expect(reason(await apiVerifier().verify({ method: 'GET', url: '/orders', headers, hints: { l3 } }))).toBe('ip-unverifiable');
    }
  });

  it('still compares with the local observed address when there is one', async () => {
    const ticket = await ticketOf(es);
    expect(reason(await send(apiVerifier(), await stampWith(es, ticket), ticket, CLIENT_IP))).toBe('accepted');
    const t2 = await ticketOf(es);
    expect(reason(await send(apiVerifier(), await stampWith(es, t2), t2, '198.51.100.1'))).toBe('ip-mismatch');
  });

  it('works with the issuer JWK Set fetched from a URL (jose remote JWK Set)', async () => {
    const http = await import('node:http');
    const server = http.createServer((_, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify(issuer.jwks)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const ticket = await ticketOf(es);
      const v = apiVerifier({ [EDGE]: `http://127.0.0.1:${port}/.well-known/ipstamp/issuer-jwks` });
      expect(reason(await send(v, await stampWith(es, ticket), ticket))).toBe('accepted');
    } finally {
      server.close();
    }
  });

  it.each([
    [
      'altered ticket',
      async (t: string) => {
        const [h, p, s] = t.split('.');
        const c = JSON.parse(Buffer.from(p!, 'base64url').toString());
        c.ip = '203.0.113.9';
        return `${h}.${Buffer.from(JSON.stringify(c)).toString('base64url')}.${s}`;
      },
    ],
    [
      'ticket from an unknown issuer',
      async () => {
        const rogue = createTicketIssuer({ key: otherIssuerJwk, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore() });
        const r = await getTicket(es, {}, rogue);
        return r.ok ? r.ticket : '';
      },
    ],
    ['two ticket headers', async (t: string) => [t, t]],
    ['oversized ticket', async (t: string) => t + 'A'.repeat(2100)],
  ])('%s → bad-ticket', async (_, mutate) => {
    const ticket = await ticketOf(es);
    const bad = await mutate(ticket);
    const stamp = await stampWith(es, typeof bad === 'string' ? bad : ticket);
    expect(reason(await send(apiVerifier(), stamp, bad))).toBe('bad-ticket');
  });

  it('an expired ticket → bad-ticket', async () => {
    const ticket = await ticketOf(es);
    const later = apiVerifier(undefined, { now: () => Date.now() + 310_000 });
    const stamper = createStamper({ key: { key: es.privateKey as CryptoKey, kid: es.kid, alg: 'ES256' }, ip: CLIENT_IP, now: () => Date.now() + 310_000 });
    const stamp = await stamper.stamp({ method: 'GET', url: `${API}/orders`, claims: { tth: tthOf(ticket) } });
    expect(reason(await send(later, stamp, ticket))).toBe('bad-ticket');
  });

  it('a verifier with no issuers configured refuses any ticket', async () => {
    const ticket = await ticketOf(es);
    const v = createVerifierCore({ keys: { keys: [] }, replayStore: new MapReplayStore(), origins: [API] });
    expect(reason(await send(v as never, await stampWith(es, ticket), ticket))).toBe('bad-ticket');
  });

  it('a stamp by another key with the ticket (kid = its own thumbprint) → unknown-key', async () => {
    const ticket = await ticketOf(es);
    expect(reason(await send(apiVerifier(), await stampWith(ed, ticket), ticket))).toBe('unknown-key');
  });

  it("a stamp by another key claiming the ticket key's kid → bad-signature", async () => {
    const ticket = await ticketOf(es);
    const forger = await clientKey('ES256');
    expect(reason(await send(apiVerifier(), await stampWith(forger, ticket, {}, es.kid), ticket))).toBe('bad-signature');
  });

  it("a stamp whose ip differs from the ticket's → binding-mismatch", async () => {
    const ticket = await ticketOf(es);
    expect(reason(await send(apiVerifier(), await stampWith(es, ticket, { ip: '203.0.113.9' }), ticket))).toBe('binding-mismatch');
  });

  it('a stamp without tth, or with the tth of another ticket → binding-mismatch', async () => {
    const ticket = await ticketOf(es);
    const other = await ticketOf(es);
    expect(reason(await send(apiVerifier(), await stampWith(es, ticket, { tth: undefined }), ticket))).toBe('binding-mismatch');
    expect(reason(await send(apiVerifier(), await stampWith(es, ticket, { tth: tthOf(other) }), ticket))).toBe('binding-mismatch');
  });

  it('replay key is (thumbprint, jti): the same stamp twice → replay', async () => {
    const ticket = await ticketOf(es);
    const v = apiVerifier();
    const stamp = await stampWith(es, ticket);
    expect(reason(await send(v, stamp, ticket))).toBe('accepted');
    expect(reason(await send(v, stamp, ticket))).toBe('replay');
  });

  it('a ticket whose cnf.jwk is marked for something else (use, key_ops) → bad-ticket, though the issuer signed it', async () => {
    let serial = 0;
    const signed = (jwk: Record<string, unknown>) => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: EDGE, ip: CLIENT_IP, iat: now, exp: now + 60, jti: `jti-marked-${String(++serial).padStart(12, '0')}`, cnf: { jwk } };
      return signRaw(issuerJwk as Record<string, unknown>, { alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' }, claims, 'ES256');
    };
    const plain = signed({ ...es.publicJwk });
    expect(reason(await send(apiVerifier(), await stampWith(es, plain), plain))).toBe('accepted');
    for (const marked of [{ use: 'enc' }, { key_ops: ['encrypt'] }]) {
      const ticket = signed({ ...es.publicJwk, ...marked });
      expect(reason(await send(apiVerifier(), await stampWith(es, ticket), ticket)), JSON.stringify(marked)).toBe('bad-ticket');
    }
  });

  it('an issuer named other than as its normalized origin is refused at setup: no ticket could ever match it', () => {
    for (const name of [`${EDGE}/`, 'https://EDGE.example.com', `${EDGE}:443`]) {
      expect(() => apiVerifier({ [name]: issuer.jwks }), name).toThrow(
        new TypeError(`issuers: "${name}" must be a normalized origin like https://edge.example.com`),
      );
    }
    expect(() => apiVerifier({ [EDGE]: issuer.jwks })).not.toThrow();
  });

  it('remembers at most 4096 verified tickets: past that it starts over, and a ticket is checked again', async () => {
    // the cache is under test, not the cryptography: every signature verifies and is counted
    let checks = 0;
    const crypto = { ...nodePlatform.crypto, verifySignature: () => (checks++, true), importClientKey: () => Promise.resolve({}) };
    const verifyTicket = createTicketVerifier({ [EDGE]: issuer.jwks }, 5, { ...nodePlatform, crypto });
    const now = Math.floor(Date.now() / 1000);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const head = b64({ alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' });
    const ticketNo = (i: number) =>
      `${head}.${b64({ iss: EDGE, ip: CLIENT_IP, iat: now, exp: now + 60, jti: `jti-${String(i).padStart(18, '0')}`, cnf: { jwk: es.publicJwk } })}.AAAA`;
    const first = ticketNo(0);
    expect(await verifyTicket(first, now * 1000)).toMatchObject({ ip: CLIENT_IP });
    expect(await verifyTicket(first, now * 1000)).toMatchObject({ ip: CLIENT_IP });
    expect(checks).toBe(1); // remembered while there is room
    for (let i = 1; i <= 4096; i++) await verifyTicket(ticketNo(i), now * 1000);
    checks = 0;
    expect(await verifyTicket(first, now * 1000)).toMatchObject({ ip: CLIENT_IP });
    expect(checks).toBe(1); // forgotten once 4096 others came through
  });
});
