import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof, ticketKid, type TicketKey } from '../../client/ticket-proof.js';
import { createIssuerKeys, createTicketIssuer, createVerifier, type IssuerKeys } from '../../server/index.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { MapReplayStore } from '../support/map-store.js';
import { listenOnFreePort } from '../support/ports.js';

/**
 * Issue 18, key rotation of a ticket issuer: the next key is published before it signs, the
 * previous one while its tickets live, and a verifier that fetches the issuer's JWK Set from
 * its URL (the way `--issuers` names one) accepts tickets of both keys through the switch.
 */
const EDGE = 'https://edge.example.com';
const API = 'https://api.example.com';

async function issuerJwk(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const pair = await generateKeyPair('ES256', { extractable: true });
  return { privateJwk: { ...(await exportJWK(pair.privateKey)), kid, alg: 'ES256' }, publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256' } };
}

let v1: { privateJwk: JWK; publicJwk: JWK };
let v2: { privateJwk: JWK; publicJwk: JWK };
let client: TicketKey & { kid: string };

/** The issuer's JWK Set at a URL, read live from the issuer, counting fetches. */
let published: () => unknown = () => ({ keys: [] });
let fetches = 0;
let jwksServer: Server;
let jwksUrl = '';

beforeAll(async () => {
  v1 = await issuerJwk('edge-2025');
  v2 = await issuerJwk('edge-2026');
  const pair = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = (await exportJWK(pair.publicKey)) as ClientPublicJwk;
  client = { privateKey: pair.privateKey, publicJwk, alg: 'ES256', kid: await ticketKid(publicJwk) };
  jwksServer = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published()));
  });
  jwksUrl = `http://127.0.0.1:${await listenOnFreePort(jwksServer)}/.well-known/ipstamp/issuer-jwks`;
});
afterAll(async () => {
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});

function edgeIssuer(keys: IssuerKeys) {
  const issuer = createTicketIssuer({ key: keys, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore() });
  published = () => issuer.jwks;
  return issuer;
}

async function ticketFrom(issuer: ReturnType<typeof createTicketIssuer>): Promise<{ ticket: string; kid: string }> {
  const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`);
  const r = await issuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
    hints: { l3: '127.0.0.5' },
  });
  if (!r.ok) throw new Error(`no ticket: ${r.reason}`);
  return { ticket: r.ticket, kid: (JSON.parse(Buffer.from(r.ticket.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid };
}

function apiVerifier() {
  const v = createVerifier({ keys: { keys: [] }, issuers: { [EDGE]: jwksUrl }, trustedProxies: ['127.0.0.1/32'], origins: [API] });
  return async (ticket: string) => {
    const stamper = createStamper({ key: { key: client.privateKey as CryptoKey, kid: client.kid, alg: 'ES256' }, ip: '127.0.0.5' });
    const tth = createHash('sha256').update(ticket).digest('base64url');
    const stamp = await stamper.stamp({ method: 'GET', url: `${API}/orders`, claims: { obs: 'ticket', tth } });
    const r = await v.verify({
      method: 'GET',
      url: '/orders',
      headers: { host: 'api.example.com', 'client-ip-attestation': stamp, 'client-ip-ticket': ticket },
      hints: { l3: '127.0.0.1' },
    });
    return r.ok ? 'accepted' : r.reason;
  };
}

const kidsOf = (jwks: { keys: readonly Record<string, unknown>[] }) => jwks.keys.map((k) => k.kid);

describe('rotating the issuer key', () => {
  it('publish next, switch, retire: a verifier fetching the set accepts tickets of both keys with no extra fetch', async () => {
    fetches = 0;
    const keys = createIssuerKeys(v1.privateJwk);
    const issuer = edgeIssuer(keys);
    expect(kidsOf(issuer.jwks)).toEqual(['edge-2025']);

    // 1. publish the next key before it signs
    keys.reload({ keys: [v1.privateJwk, v2.publicJwk] });
    expect(kidsOf(issuer.jwks)).toEqual(['edge-2025', 'edge-2026']);
    const before = await ticketFrom(issuer);
    expect(before.kid).toBe('edge-2025');
    const verify = apiVerifier();
    expect(await verify(before.ticket)).toBe('accepted');
    expect(fetches).toBe(1);

    // 2. switch: the next key signs, the previous one is still published for its tickets
    keys.reload({ keys: [v2.privateJwk, v1.publicJwk] });
    expect(keys.kid).toBe('edge-2026');
    const after = await ticketFrom(issuer);
    expect(after.kid).toBe('edge-2026');
    expect(await verify(after.ticket)).toBe('accepted');
    expect(fetches).toBe(1); // known since step 1: no fetch, no cooldown to wait out
    // a verifier that starts now still accepts the tickets signed before the switch
    expect(await apiVerifier()(before.ticket)).toBe('accepted');

    // 3. retire the previous key once its tickets have expired
    keys.reload({ keys: [v2.privateJwk] });
    expect(kidsOf(issuer.jwks)).toEqual(['edge-2026']);
    expect(await apiVerifier()(before.ticket)).toBe('bad-ticket');
  });

  it('switching without publishing first: a verifier that fetched within its cooldown refuses the new tickets (why step 1 exists)', async () => {
    const keys = createIssuerKeys(v1.privateJwk);
    const issuer = edgeIssuer(keys);
    const verify = apiVerifier();
    expect(await verify((await ticketFrom(issuer)).ticket)).toBe('accepted');
    keys.reload(v2.privateJwk);
    expect(await verify((await ticketFrom(issuer)).ticket)).toBe('bad-ticket');
  });

  // a running verifier once kept every issuer key it had imported for the life of the process:
  // a retired (or stolen) issuer key went on minting accepted tickets until a restart
  it('a key the issuer retires stops verifying in a running verifier once its copy of the set is older than 10 minutes', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const keys = createIssuerKeys({ keys: [v1.privateJwk, v2.publicJwk] });
      const issuer = edgeIssuer(keys);
      const verify = apiVerifier();
      expect(await verify((await ticketFrom(issuer)).ticket)).toBe('accepted');
      // the issuer retires edge-2025; whoever still holds its private key keeps signing with it
      published = () => ({ keys: [v2.publicJwk] });
      const stolen = createTicketIssuer({ key: createIssuerKeys(v1.privateJwk), origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore() });
      vi.advanceTimersByTime(60_000);
      expect(await verify((await ticketFrom(stolen)).ticket)).toBe('accepted'); // jose's copy is still fresh
      vi.advanceTimersByTime(541_000);
      expect(await verify((await ticketFrom(stolen)).ticket)).toBe('bad-ticket');
      expect(await verify((await ticketFrom(edgeIssuer(createIssuerKeys(v2.privateJwk)))).ticket)).toBe('accepted');
    } finally {
      vi.useRealTimers();
    }
  });

  // a verified ticket is remembered by its text: that memory once outlived the key, so a ticket
  // of a retired (or stolen) issuer key stayed accepted until its exp, up to 10 minutes
  it('a ticket already verified stops verifying once a fetch no longer holds its key, before its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const keys = createIssuerKeys({ keys: [v1.privateJwk, v2.publicJwk] });
      const issuer = edgeIssuer(keys);
      const verify = apiVerifier();
      const cached = (await ticketFrom(issuer)).ticket;
      const kept = (await ticketFrom(edgeIssuer(createIssuerKeys({ keys: [v2.privateJwk, v1.publicJwk] })))).ticket;
      expect([await verify(cached), await verify(kept)]).toEqual(['accepted', 'accepted']);
      // edge-2025 is retired; a ticket naming a kid the verifier does not hold makes it fetch again
      published = () => ({ keys: [v2.publicJwk] });
      vi.advanceTimersByTime(31_000);
      const v3 = await issuerJwk('edge-2027');
      const unknown = createTicketIssuer({ key: createIssuerKeys(v3.privateJwk), origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore() });
      fetches = 0;
      expect(await verify((await ticketFrom(unknown)).ticket)).toBe('bad-ticket');
      expect(fetches).toBe(1);
      expect([await verify(cached), await verify(kept)]).toEqual(['bad-ticket', 'accepted']);
      expect(fetches).toBe(1);
    } finally {
      vi.useRealTimers();
      published = () => ({ keys: [] });
    }
  });

  it('an issuer set is fetched over https, or http to a loopback address, and never with credentials', () => {
    const withIssuer = (url: string) => () => createVerifier({ keys: { keys: [] }, issuers: { [EDGE]: url } });
    expect(withIssuer('http://edge.example.com/.well-known/ipstamp/issuer-jwks')).toThrow(
      new TypeError(`issuers["${EDGE}"]: url must be an https URL (http only to a loopback address)`),
    );
    expect(withIssuer('https://user:secret@edge.example.com/jwks')).toThrow(/^issuers\["https:\/\/edge\.example\.com"\]: url must be an https URL/);
    expect(withIssuer('not a url')).toThrow(TypeError);
    expect(withIssuer('https://edge.example.com/.well-known/ipstamp/issuer-jwks')).not.toThrow();
    expect(withIssuer(jwksUrl)).not.toThrow();
  });

  it('a key set that does not pass throws TypeError naming the key and keeps the keys in use', () => {
    const keys = createIssuerKeys({ keys: [v1.privateJwk, v2.publicJwk] });
    const refusals: [unknown, RegExp][] = [
      [{ keys: [] }, /^key\.keys must hold the signing key first$/],
      [{ keys: [v2.publicJwk, v1.privateJwk] }, /^key\.keys\[0\] must be a private key \(it has no "d"\)$/],
      [{ keys: [v2.privateJwk, v2.publicJwk] }, /^key\.keys\[1\]: duplicate kid$/],
      [{ keys: [v2.privateJwk, { ...v1.publicJwk, alg: 'EdDSA' }] }, /^key\.keys\[1\] does not fit alg EdDSA$/],
      [{ keys: [v2.privateJwk, { ...v1.publicJwk, kid: 'has space' }] }, /^key\.keys\[1\]\.kid must be/],
      [{ keys: [v2.privateJwk, { kty: 'oct', k: 'AAAA', kid: 'h', alg: 'HS256' }] }, /^key\.keys\[1\]\.alg must be ES256 or EdDSA$/],
      [{ ...v2.publicJwk }, /^key must be a private key/],
    ];
    for (const [input, message] of refusals) expect(() => keys.reload(input as JWK)).toThrow(message);
    expect(keys.kid).toBe('edge-2025');
    expect(kidsOf(keys.jwks)).toEqual(['edge-2025', 'edge-2026']);
    expect(() => createTicketIssuer({ key: { keys: [] }, replayStore: new MapReplayStore() })).toThrow(/^key\.keys must hold the signing key first$/);
  });
});
