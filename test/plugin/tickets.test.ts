import { createHash } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateStampKey, type StampKey } from '../../client/browser-key.js';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { MemoryReplayStore } from '../../server/index.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { buildApp } from './app.js';

/**
 * The plugin as a ticket issuer (PROTOCOL §7.1) and as a verifier that trusts it (§7.4),
 * through fastify.inject (the TCP peer is 127.0.0.1).
 */
const EDGE = 'http://edge.example';
let issuerKey: JWK;
let client: StampKey;

beforeAll(async () => {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
  client = await generateStampKey({ alg: 'ES256' });
});

async function edge(rateLimit?: number | false) {
  return buildApp({ keys: { keys: [] }, origins: [EDGE], issuer: { key: issuerKey, rateLimit } });
}

async function askTicket(app: Awaited<ReturnType<typeof edge>>['app']) {
  const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`);
  return app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { 'client-ip-attestation': proof } });
}

describe('plugin issuer routes', () => {
  it('issues a ticket for the observed address and publishes its JWK Set', async () => {
    const { app, log } = await edge();
    const res = await askTicket(app);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as { ticket: string; ip: string; exp: number };
    expect(body.ip).toBe('127.0.0.1');
    const jwksResponse = await app.inject('/.well-known/ipstamp/issuer-jwks');
    expect(jwksResponse.headers['cache-control']).toBe('public, max-age=300');
    const jwks = jwksResponse.json() as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: 'edge-1', alg: 'EdDSA', kty: 'OKP' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(log.text()).not.toContain(body.ticket); // logged as issued, never the ticket itself
  });

  it('refuses a replayed proof as problem+json', async () => {
    const { app } = await edge();
    const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`);
    const send = () => app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { 'client-ip-attestation': proof } });
    expect((await send()).statusCode).toBe(200);
    const again = await send();
    expect(again.statusCode).toBe(401);
    expect(again.headers['content-type']).toBe('application/problem+json');
    expect(again.json()).toMatchObject({ reason: 'replay' });
  });

  it('rate-limits ticket requests per observed address', async () => {
    const { app } = await edge(2);
    expect((await askTicket(app)).statusCode).toBe(200);
    expect((await askTicket(app)).statusCode).toBe(200);
    expect((await askTicket(app)).statusCode).toBe(429);
  });

  it('groups IPv6 peers by /64: two addresses in one /64 share a budget, another /64 has its own', async () => {
    const { app } = await edge(2);
    const from = async (remoteAddress: string) => {
      const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`);
      return (await app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', remoteAddress, headers: { 'client-ip-attestation': proof } })).statusCode;
    };
    expect(await from('2001:db8:1:2::a')).toBe(200);
    expect(await from('2001:db8:1:2::b')).toBe(200);
    expect(await from('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(429);
    expect(await from('2001:db8:1:3::a')).toBe(200);
    expect(await from('::ffff:192.0.2.1')).toBe(200);
  });

  it('a verifier trusting the issuer accepts a ticket stamp without a registered key; a forged ticket is bad-ticket', async () => {
    const { app: edgeApp } = await edge();
    const { ticket } = (await askTicket(edgeApp)).json() as { ticket: string };
    const jwks = (await edgeApp.inject('/.well-known/ipstamp/issuer-jwks')).json();
    const { app: api } = await buildApp({ keys: { keys: [] }, issuers: { [EDGE]: jwks } });
    const stamp = (t: string) =>
      createStamper({ key: client, ip: '127.0.0.1' }).stamp({
        method: 'GET',
        url: 'http://localhost:80/orders',
        claims: { obs: 'ticket', tth: createHash('sha256').update(t).digest('base64url') },
      });
    const ok = await api.inject({ url: '/orders', headers: { 'client-ip-ticket': ticket, 'client-ip-attestation': await stamp(ticket) } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().ipStamp).toMatchObject({ source: 'ticket', issuer: EDGE, ip: '127.0.0.1', agreement: 'match' });
    // one signature character changed (the last ones may already be 'A')
    const forged = ticket.slice(0, -20) + (ticket.at(-20) === 'A' ? 'B' : 'A') + ticket.slice(-19);
    const bad = await api.inject({ url: '/orders', headers: { 'client-ip-ticket': forged, 'client-ip-attestation': await stamp(forged) } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toEqual({ type: 'urn:ipstamp:bad-ticket', title: 'Client IP ticket is not acceptable', status: 401, reason: 'bad-ticket' });
  });

  it("issuer.replayStore: proofs are remembered there, not in the verifier's store, and when it is full only tickets are refused", async () => {
    const stamps = new MapReplayStore();
    const proofs = new MemoryReplayStore({ maxEntries: 2 });
    const hs = await makeKey('HS256', 'app');
    const { app } = await buildApp({ keys: { keys: [hs.publicJwk] }, origins: [EDGE], replayStore: stamps, issuer: { key: issuerKey, replayStore: proofs } });
    const stampedGet = async () =>
      (
        await app.inject({
          url: '/orders',
          headers: { 'client-ip-attestation': await createStamper({ key: hs.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url: `${EDGE}/orders` }) },
        })
      ).statusCode;
    const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`);
    const send = () => app.inject({ method: 'POST', url: '/.well-known/ipstamp/ticket', headers: { 'client-ip-attestation': proof } });
    expect((await send()).statusCode).toBe(200);
    expect((await send()).json()).toMatchObject({ reason: 'replay' }); // checked in the issuer's store
    expect(stamps.seen.size).toBe(0);
    expect((await askTicket(app)).statusCode).toBe(200);
    // the issuer's store is full: a proof flood stops there
    const full = await askTicket(app);
    expect(full.statusCode).toBe(503);
    expect(full.json()).toMatchObject({ reason: 'store-unavailable' });
    expect(await stampedGet()).toBe(200);
    expect(await stampedGet()).toBe(200);
    expect(stamps.seen.size).toBe(2);
  });

  it("without issuer.replayStore, proofs share the verifier's store", async () => {
    const shared = new MapReplayStore();
    const { app } = await buildApp({ keys: { keys: [] }, origins: [EDGE], replayStore: shared, issuer: { key: issuerKey } });
    expect((await askTicket(app)).statusCode).toBe(200);
    expect(shared.seen.size).toBe(1);
  });

  it('refuses bad issuer options at register time', async () => {
    await expect(buildApp({ keys: { keys: [] }, issuer: { key: issuerKey, replayStore: {} as never } })).rejects.toThrow(
      new TypeError('issuer.replayStore must be a replay store (an object with insertIfAbsent)'),
    );
    await expect(buildApp({ keys: { keys: [] }, issuer: { key: { kty: 'oct' } } })).rejects.toThrow(TypeError);
    await expect(buildApp({ keys: { keys: [] }, issuer: { key: issuerKey, rateLimit: -1 } })).rejects.toThrow(/rateLimit/);
    // the issuer's own checks name the plugin option the user wrote
    await expect(buildApp({ keys: { keys: [] }, issuer: { key: issuerKey, lifetime: 601 } })).rejects.toThrow(/^issuer\.lifetime must be/);
    await expect(buildApp({ keys: { keys: [] }, issuer: { key: issuerKey, origin: 'edge.example' } })).rejects.toThrow(
      /^issuer\.origin must be an http\(s\) origin/,
    );
  });
});
