import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { IssueResult } from '../../server/issuer/issuer.js';
import { checkIssuerRouteOptions, issuerBesideVerifier, type IssuerRouteOptions } from '../../server/issuer/issuer-routes.js';
import { createVerifier, type CreateVerifierOptions } from '../../server/verify/create-verifier.js';
import type { VerifyInput } from '../../server/verify/types.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * server/issuer/issuer-routes.ts: the issuer every adapter serves beside its verifier takes the
 * verifier's trust, origins, clock, time rules and replay store (its doc comment), and names
 * `issuer.*` in its TypeErrors. Pinned where mutation testing found an option that could be
 * dropped on the way without any test noticing.
 */
const EDGE = 'https://edge.example.com';
const HTU = `${EDGE}/.well-known/ipstamp/ticket`;
const NOW = 1_767_225_600_000;
const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };
const client = generateKeyPairSync('ed25519');
const clientPrivate = client.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
const clientPublic = { kty: 'OKP', crv: 'Ed25519', x: client.publicKey.export({ format: 'jwk' }).x };

function proof(signedAtMs = NOW): string {
  const claims = { iat: Math.floor(signedAtMs / 1000), jti: randomBytes(16).toString('base64url'), htm: 'POST', htu: HTU };
  return signRaw(clientPrivate, { alg: 'EdDSA', typ: 'ipstamp-ticket-req+jwt', jwk: clientPublic }, claims, 'EdDSA');
}

function edge(verifierOptions: Partial<CreateVerifierOptions> = {}, options: Partial<IssuerRouteOptions> = {}) {
  const all: CreateVerifierOptions = { keys: { keys: [] }, now: () => NOW, ...verifierOptions };
  return issuerBesideVerifier({ key: issuerKey, ...options }, all, createVerifier(all));
}

function ask(issuer: ReturnType<typeof edge>, over: Partial<VerifyInput> = {}, token = proof()): Promise<IssueResult> {
  return issuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': token },
    hints: { l3: '203.0.113.7' },
    ...over,
  });
}

const outcome = (r: IssueResult) => (r.ok ? r.ip : r.reason);
const ticketClaims = (r: IssueResult) => (r.ok ? (JSON.parse(Buffer.from(r.ticket.split('.')[1]!, 'base64url').toString()) as { iat: number }) : undefined);

describe('the issuer beside a verifier takes the verifier settings', () => {
  it("its clock: the ticket's iat is the verifier's now, and proofs are judged fresh by it", async () => {
    const issuer = edge();
    const r = await ask(issuer);
    expect(ticketClaims(r)?.iat).toBe(NOW / 1000);
    // a proof signed an hour before the verifier's clock (though "now" for the process) is expired
    expect(outcome(await ask(issuer, {}, proof(NOW - 3_600_000)))).toBe('expired');
  });

  it('its maxAge and skew: a proof 12 s old is fresh with the defaults (30 + 5) and expired with maxAge 5, skew 1', async () => {
    expect(outcome(await ask(edge(), {}, proof(NOW - 12_000)))).toBe('203.0.113.7');
    expect(outcome(await ask(edge({ maxAge: 5, skew: 1 }), {}, proof(NOW - 12_000)))).toBe('expired');
    // skew alone: iat 3 s ahead is fine with the default 5, not with 1
    expect(outcome(await ask(edge({ skew: 1 }), {}, proof(NOW + 3_000)))).toBe('not-yet-valid');
  });

  it('its origins: a proof bound to a pinned origin is accepted whatever Host a proxy in front rewrote', async () => {
    const over = { headers: { host: 'internal:8080', 'client-ip-attestation': proof() } };
    expect(outcome(await ask(edge({ origins: [EDGE] }), over))).toBe('203.0.113.7');
    expect(outcome(await ask(edge(), over))).toBe('binding-mismatch');
  });

  it('its trustedProxies: behind a trusted load balancer the ticket carries the client, not the balancer', async () => {
    const over = { hints: { l3: '10.0.0.10' }, headers: { host: 'edge.example.com', 'x-forwarded-for': '198.51.100.9', 'client-ip-attestation': proof() } };
    expect(outcome(await ask(edge({ trustedProxies: ['10.0.0.0/8'] }), over))).toBe('198.51.100.9');
  });

  it('its forwardedHeader: with Forwarded configured, the client is read from for=', async () => {
    const over = { hints: { l3: '10.0.0.10' }, headers: { host: 'edge.example.com', forwarded: 'for=198.51.100.9', 'client-ip-attestation': proof() } };
    expect(outcome(await ask(edge({ trustedProxies: ['10.0.0.0/8'], forwardedHeader: 'forwarded' }), over))).toBe('198.51.100.9');
  });

  it("its protoHeader: with protoHeader false, a trusted hop's X-Forwarded-Proto does not make an http request https", async () => {
    const over = {
      protocol: 'http' as const,
      hints: { l3: '10.0.0.10' },
      headers: { host: 'edge.example.com', 'x-forwarded-for': '198.51.100.9', 'x-forwarded-proto': 'https', 'client-ip-attestation': proof() },
    };
    expect(outcome(await ask(edge({ trustedProxies: ['10.0.0.0/8'] }), over))).toBe('198.51.100.9'); // control: the default reads it
    expect(
      outcome(
        await ask(edge({ trustedProxies: ['10.0.0.0/8'], protoHeader: false }), { ...over, headers: { ...over.headers, 'client-ip-attestation': proof() } }),
      ),
    ).toBe('binding-mismatch');
  });

  it("the issuer's own origin option is written as iss", async () => {
    const r = await ask(edge({}, { origin: 'https://tickets.example' }));
    expect(r.ok && JSON.parse(Buffer.from(r.ticket.split('.')[1]!, 'base64url').toString()).iss).toBe('https://tickets.example');
  });

  it("its replay store: a proof's (thumbprint, jti) is remembered where the verifier remembers stamps", async () => {
    const store = new MapReplayStore();
    const issuer = edge({ replayStore: store });
    const token = proof();
    expect(outcome(await ask(issuer, {}, token))).toBe('203.0.113.7');
    expect(store.seen.size).toBe(1);
    expect(outcome(await ask(issuer, {}, token))).toBe('replay');
  });
});

describe('issuer option errors name issuer.*', () => {
  it('a bad lifetime or key, from the issuer itself', () => {
    expect(() => edge({}, { lifetime: 601 })).toThrow(/^issuer\.lifetime must be a whole number of seconds from 1 to 600$/);
    expect(() => edge({}, { key: { ...issuerKey, kid: undefined } })).toThrow(/^issuer\.key\.kid must be/);
  });

  it.each([0, -1, 1.5, Number.NaN, '30'])('rateLimit %s', (rateLimit) => {
    expect(() => checkIssuerRouteOptions({ key: issuerKey, rateLimit })).toThrow(
      new TypeError('issuer.rateLimit must be a positive whole number of requests per minute, or false'),
    );
  });

  it('rateLimit false, a whole number, or none pass; an unknown option or a non-object does not', () => {
    for (const rateLimit of [false, 1, 30, undefined]) expect(() => checkIssuerRouteOptions({ key: issuerKey, rateLimit })).not.toThrow();
    expect(() => checkIssuerRouteOptions({ key: issuerKey, ttl: 5 })).toThrow(new TypeError('unknown option "issuer.ttl"'));
    expect(() => checkIssuerRouteOptions(null)).toThrow(new TypeError('issuer must be an object with a private key'));
  });
});
