import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTicketIssuer, type TicketIssuerOptions } from '../../server/issuer/issuer.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * What the issuer signs and with what (PROTOCOL.md §7.2), pinned where mutation testing found
 * it unasserted: the lifetime option's bounds (1 to 600 whole seconds, both inclusive) and that
 * `exp` is exactly `iat + lifetime`, the same in the ticket and in the answer; `cnf.jwk` holds
 * the client's public members only, so a proof cannot push the ticket past 2048 bytes; and the
 * signing key's kid, alg and curve are checked when the issuer is created, not at the first
 * ticket.
 */
const EDGE = 'https://edge.example.com';
const HTU = `${EDGE}/.well-known/ipstamp/ticket`;
const NOW = 1_767_225_600_000;

const privateJwk = (type: 'ed25519' | 'P-256' | 'P-384') =>
  (type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: type })).privateKey.export({ format: 'jwk' });
const issuerJwk = { ...privateJwk('P-256'), kid: 'edge-1', alg: 'ES256' };

const client = generateKeyPairSync('ed25519');
const clientPrivate = client.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
const clientPublic = { kty: 'OKP', crv: 'Ed25519', x: client.publicKey.export({ format: 'jwk' }).x };

function proof(jwk: Record<string, unknown> = clientPublic): string {
  const claims = { iat: Math.floor(NOW / 1000), jti: randomBytes(16).toString('base64url'), htm: 'POST', htu: HTU };
  return signRaw(clientPrivate, { alg: 'EdDSA', typ: 'ipstamp-ticket-req+jwt', jwk }, claims, 'EdDSA');
}

function edge(over: Partial<TicketIssuerOptions> = {}) {
  return createTicketIssuer({ key: issuerJwk, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore(), now: () => NOW, ...over });
}

async function ticketFrom(issuer: ReturnType<typeof edge>, token = proof()) {
  const r = await issuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': token },
    hints: { l3: '203.0.113.7' },
  });
  if (!r.ok) throw new Error(`no ticket: ${r.reason}`);
  const claims = JSON.parse(Buffer.from(r.ticket.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  return { ...r, claims };
}

describe('issuer: ticket lifetime', () => {
  it.each([1, 300, 600])('lifetime %i: exp = iat + lifetime exactly, in the ticket and in the answer', async (lifetime) => {
    const t = await ticketFrom(edge({ lifetime }));
    expect(t.claims).toMatchObject({ iat: NOW / 1000, exp: NOW / 1000 + lifetime });
    // the client schedules its renewal by the answer's exp: it must be the signed one
    expect(t.exp).toBe(t.claims.exp);
  });

  it.each([0, -1, 601, 1.5, Number.NaN, Infinity])('lifetime %s is a TypeError at creation (whole seconds from 1 to 600)', (lifetime) => {
    expect(() => edge({ lifetime })).toThrow(new TypeError('lifetime must be a whole number of seconds from 1 to 600'));
  });
});

describe("issuer: the ticket's cnf.jwk", () => {
  it('holds only the public members (crv, kty, x), whatever else the proof header jwk carried', async () => {
    const t = await ticketFrom(edge(), proof({ ...clientPublic, kid: 'mine', alg: 'EdDSA', use: 'sig', ext: true }));
    expect(t.claims.cnf).toEqual({ jwk: clientPublic });
  });

  it('a proof jwk padded with 2,000 characters of extra members still gets a ticket within 2048 bytes (§7.2)', async () => {
    const t = await ticketFrom(edge(), proof({ ...clientPublic, note: 'n'.repeat(2000) }));
    expect(t.ticket.length).toBeLessThanOrEqual(2048);
  });
});

describe('issuer: the published JWK Set', () => {
  it('holds the public key with kid, alg and use "sig", and nothing private', () => {
    const { kty, crv, x, y } = issuerJwk as Record<string, unknown>;
    // a verifier that selects keys by use (RFC 7517 §4.2) finds the key; no "d" ever leaves the issuer
    expect(edge().jwks).toEqual({ keys: [{ kty, crv, x, y, kid: 'edge-1', alg: 'ES256', use: 'sig' }] });
  });
});

describe("issuer: the signing key is checked at creation (kid, alg, curve), naming what's wrong", () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no kid', { ...privateJwk('P-256'), alg: 'ES256' }, /^key\.kid must be 1–128 characters/],
    ['a kid with a space', { ...privateJwk('P-256'), kid: 'edge 1', alg: 'ES256' }, /^key\.kid must be 1–128 characters/],
    ['no alg', { ...privateJwk('P-256'), kid: 'edge-1' }, /^key\.alg must be ES256 or EdDSA$/],
    ['alg ES384 (not a ticket alg)', { ...privateJwk('P-384'), kid: 'edge-1', alg: 'ES384' }, /^key\.alg must be ES256 or EdDSA$/],
    ['a P-384 key that says ES256', { ...privateJwk('P-384'), kid: 'edge-1', alg: 'ES256' }, /^key does not fit alg ES256$/],
    ['an Ed25519 key that says ES256', { ...privateJwk('ed25519'), kid: 'edge-1', alg: 'ES256' }, /^key does not fit alg ES256$/],
    ['a P-256 key that says EdDSA', { ...privateJwk('P-256'), kid: 'edge-1', alg: 'EdDSA' }, /^key does not fit alg EdDSA$/],
  ])('%s', (_, key, message) => {
    // refused at once: an issuer that started would fail (or sign unverifiable tickets) at its first request
    expect(() => edge({ key })).toThrow(message);
  });
});
