import { createHash } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof, ticketKid, type TicketKey } from '../../client/ticket-proof.js';
import { createTicketIssuer, type TicketIssuer } from '../../server/issuer/issuer.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifyResult } from '../../server/verify/types.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * A ticket's time. PROTOCOL §7.4 item 6: it passes only while `iat ≤ now + skew` and
 * `exp ≥ now − skew`, both boundaries inclusive, checked on every use (a verified ticket is
 * cached by its text). §7.2 / §7.4 item 2: its claims have `iat < exp ≤ iat + 600`; a ticket
 * signed for longer (a misconfigured or compromised issuer, a leaked ticket) is bad-ticket.
 */
const EDGE = 'https://edge.example.com';
const API = 'https://api.example.com';
const CLIENT_IP = '127.0.0.5';
const PROXY = '127.0.0.1';
const SKEW = 5;

let issuerJwk: JWK;
let published: TicketIssuer['jwks'];
let client: TicketKey & { kid: string };

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  issuerJwk = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = (await exportJWK(publicKey)) as ClientPublicJwk;
  client = { privateKey, publicJwk, alg: 'ES256', kid: await ticketKid(publicJwk) };
  published = createTicketIssuer({ key: issuerJwk, origin: EDGE, replayStore: new MapReplayStore() }).jwks;
});

/** A ticket from an issuer whose clock reads `issuerNowMs`. */
async function ticketAt(issuerNowMs: number): Promise<{ ticket: string; exp: number }> {
  const issuer = createTicketIssuer({ key: issuerJwk, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore(), now: () => issuerNowMs, lifetime: 60 });
  const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`, () => issuerNowMs);
  const r = await issuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
    hints: { l3: CLIENT_IP },
  });
  if (!r.ok) throw new Error(`no ticket: ${r.reason}`);
  return { ticket: r.ticket, exp: r.exp };
}

/** One stamped request to a verifier (behind a trusted proxy) whose clock reads `nowMs`. */
async function useAt(ticket: string, nowMs: number): Promise<string> {
  const verifier = createVerifierCore({
    keys: { keys: [] },
    issuers: { [EDGE]: published },
    replayStore: new MapReplayStore(),
    trustedProxies: ['127.0.0.1/32'],
    origins: [API],
    skew: SKEW,
    now: () => nowMs,
  });
  const stamper = createStamper({ key: { key: client.privateKey as CryptoKey, kid: client.kid, alg: 'ES256' }, ip: CLIENT_IP, now: () => nowMs });
  const tth = createHash('sha256').update(ticket).digest('base64url');
  const stamp = await stamper.stamp({ method: 'GET', url: `${API}/orders`, claims: { obs: 'ticket', tth } });
  const r: VerifyResult = await verifier.verify({
    method: 'GET',
    url: '/orders',
    headers: { host: 'api.example.com', 'client-ip-attestation': stamp, 'client-ip-ticket': ticket },
    hints: { l3: PROXY },
  });
  return r.ok ? 'accepted' : r.reason;
}

describe('ticket clock (PROTOCOL §7.4 item 6)', () => {
  it('a ticket issued in the future (iat > now + skew) is bad-ticket; iat = now + skew passes', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    const early = await ticketAt(now + (SKEW + 1) * 1000);
    expect(await useAt(early.ticket, now)).toBe('bad-ticket');
    const edge = await ticketAt(now + SKEW * 1000);
    expect(await useAt(edge.ticket, now)).toBe('accepted');
  });

  it('exp = now − skew still passes; a millisecond later it is bad-ticket', async () => {
    const issuedAt = Math.floor(Date.now() / 1000) * 1000;
    const { ticket, exp } = await ticketAt(issuedAt);
    expect(await useAt(ticket, (exp + SKEW) * 1000)).toBe('accepted');
    expect(await useAt(ticket, (exp + SKEW) * 1000 + 1)).toBe('bad-ticket');
  });
});

/** A ticket signed by the trusted issuer key with the given lifetime in seconds. */
function ticketWithLifetime(iat: number, lifetime: number): string {
  const claims = { iss: EDGE, ip: CLIENT_IP, iat, exp: iat + lifetime, jti: 'AAAAAAAAAAAAAAAAAAAAAA', cnf: { jwk: client.publicJwk } };
  return signRaw(issuerJwk as Record<string, unknown>, { alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' }, claims, 'ES256');
}

describe('ticket lifetime (PROTOCOL §7.2)', () => {
  it('exp = iat + 600 is accepted; iat + 601 and a year are bad-ticket', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await useAt(ticketWithLifetime(now, 600), now * 1000)).toBe('accepted');
    expect(await useAt(ticketWithLifetime(now, 601), now * 1000)).toBe('bad-ticket');
    expect(await useAt(ticketWithLifetime(now, 365 * 86400), now * 1000)).toBe('bad-ticket');
  });
});

/** A correctly signed ticket of exactly `length` characters, padded with an unknown claim (and header member). */
function ticketOfLength(iat: number, length: number): string {
  const claims = { iss: EDGE, ip: CLIENT_IP, iat, exp: iat + 60, jti: 'AAAAAAAAAAAAAAAAAAAAAA', cnf: { jwk: client.publicJwk } };
  for (let h = 0; h < 4; h++) {
    const header = { alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'edge-1', ...(h === 0 ? {} : { x: 'y'.repeat(h) }) };
    for (let p = 0; p < length; p++) {
      const ticket = signRaw(issuerJwk as Record<string, unknown>, header, { ...claims, pad: 'z'.repeat(p) }, 'ES256');
      if (ticket.length === length) return ticket;
      if (ticket.length > length) break;
    }
  }
  throw new Error(`no ticket of ${length} characters`);
}

describe('ticket size (PROTOCOL §7.4 item 1: "at most 2048 bytes")', () => {
  it('a ticket of exactly 2048 characters is accepted; one of 2049 is bad-ticket', async () => {
    const now = Math.floor(Date.now() / 1000);
    const fits = ticketOfLength(now, 2048);
    expect(fits).toHaveLength(2048);
    expect(await useAt(fits, now * 1000)).toBe('accepted');
    expect(await useAt(ticketOfLength(now, 2049), now * 1000)).toBe('bad-ticket');
  });
});
