import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateStampKey, type StampKey } from '../../client/browser-key.js';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { makeKey } from '../support/keys.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';

/** The middleware as a ticket issuer (PROTOCOL §7.1) and as a verifier that trusts it (§7.4), through app.request. */
const EDGE = 'http://edge.example';
const TICKET_URL = `${EDGE}/.well-known/ipstamp/ticket`;
let issuerKey: JWK;
let client: StampKey;

beforeAll(async () => {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
  client = await generateStampKey({ alg: 'ES256' });
});

function edge(rateLimit?: number | false, peer = () => '127.0.0.2') {
  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(ipstamp({ keys: { keys: [] }, origins: [EDGE], issuer: { key: issuerKey, rateLimit }, connection: () => ({ l3: peer() }) }));
  return app;
}

async function askTicket(app: Hono<{ Variables: IpStampVariables }>) {
  const proof = await createTicketRequestProof(client, TICKET_URL);
  return app.request(TICKET_URL, { method: 'POST', headers: { 'client-ip-attestation': proof } });
}

describe('ipstamp/hono issuer routes', () => {
  it('issues a ticket for the observed address and publishes its JWK Set (no private part)', async () => {
    const app = edge();
    const res = await askTicket(app);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ ip: '127.0.0.2' });
    const jwksResponse = await app.request(`${EDGE}/.well-known/ipstamp/issuer-jwks`);
    expect(jwksResponse.headers.get('cache-control')).toBe('public, max-age=300');
    const jwks = (await jwksResponse.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: 'edge-1', alg: 'EdDSA' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('a replayed proof is refused as problem+json', async () => {
    const app = edge();
    const proof = await createTicketRequestProof(client, TICKET_URL);
    const send = () => app.request(TICKET_URL, { method: 'POST', headers: { 'client-ip-attestation': proof } });
    expect((await send()).status).toBe(200);
    const again = await send();
    expect([again.status, again.headers.get('content-type'), ((await again.json()) as { reason: string }).reason]).toEqual([
      401,
      'application/problem+json',
      'replay',
    ]);
  });

  it('rate-limits per observed address: the third request from one peer is 429 rate-limited, another peer still gets one', async () => {
    let peer = '127.0.0.2';
    const app = edge(2, () => peer);
    expect((await askTicket(app)).status).toBe(200);
    expect((await askTicket(app)).status).toBe(200);
    const third = await askTicket(app);
    expect([third.status, ((await third.json()) as { reason: string }).reason]).toEqual([429, 'rate-limited']);
    peer = '127.0.0.3';
    expect((await askTicket(app)).status).toBe(200);
  });

  it('a verifier trusting the issuer accepts a ticket stamp; the verdict says source ticket', async () => {
    const { ticket } = (await (await askTicket(edge())).json()) as { ticket: string };
    const jwks = await (await edge().request(`${EDGE}/.well-known/ipstamp/issuer-jwks`)).json();
    const api = new Hono<{ Variables: IpStampVariables }>();
    api.use(ipstamp({ keys: { keys: [] }, issuers: { [EDGE]: jwks as never }, connection: () => ({ l3: '127.0.0.2' }) }));
    api.get('/orders', (c) => c.json(c.get('ipStamp')));
    const url = 'http://api.example/orders';
    const stamp = await createStamper({ key: client, ip: '127.0.0.2' }).stamp({
      method: 'GET',
      url,
      claims: { obs: 'ticket', tth: createHash('sha256').update(ticket).digest('base64url') },
    });
    const ok = await api.request(url, { headers: { 'client-ip-ticket': ticket, 'client-ip-attestation': stamp } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ source: 'ticket', issuer: EDGE, ip: '127.0.0.2', agreement: 'match' });
  });
});

describe('ipstamp/hono issuer routes: the limit, and the paths they own', () => {
  it('by default 30 requests per observed address; behind a trusted proxy each client it names has its own, one per IPv6 /64', async () => {
    const app = new Hono();
    app.use(
      ipstamp({ keys: { keys: [] }, origins: [EDGE], trustedProxies: ['127.0.0.1'], issuer: { key: issuerKey }, connection: () => ({ l3: '127.0.0.1' }) }),
    );
    const ask = async (client: string) => (await app.request(TICKET_URL, { method: 'POST', headers: { 'x-forwarded-for': client } })).status;
    const first: number[] = [];
    for (let i = 0; i < 31; i++) first.push(await ask('2001:db8:1:2::1'));
    expect(first).toEqual([...Array<number>(30).fill(401), 429]);
    // the same /64, another /64, another client
    expect([await ask('2001:db8:1:2::ffff'), await ask('2001:db8:1:3::1'), await ask('198.51.100.1')]).toEqual([429, 401, 401]);
  });

  it('a stamped request of another method on the ticket or JWK Set path is verified like any request and reaches the app', async () => {
    const key = await makeKey('HS256', 'other-methods');
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(ipstamp({ keys: { keys: [key.publicJwk] }, origins: [EDGE], issuer: { key: issuerKey }, connection: () => ({ l3: '127.0.0.2' }) }));
    app.all('*', (c) => c.json({ app: `${c.req.method} ${c.req.path}`, ip: c.get('ipStamp')?.ip }));
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.2' });
    const answers = [];
    for (const [method, path] of [
      ['GET', '/.well-known/ipstamp/ticket'],
      ['POST', '/.well-known/ipstamp/issuer-jwks'],
    ] as const) {
      const url = `${EDGE}${path}`;
      const res = await app.request(url, { method, headers: { 'client-ip-attestation': await stamper.stamp({ method, url }) } });
      answers.push([res.status, await res.json()]);
    }
    expect(answers).toEqual([
      [200, { app: 'GET /.well-known/ipstamp/ticket', ip: '127.0.0.2' }],
      [200, { app: 'POST /.well-known/ipstamp/issuer-jwks', ip: '127.0.0.2' }],
    ]);
  });
});
