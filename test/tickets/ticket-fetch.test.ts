import { createServer, type IncomingMessage, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch } from '../../client/stamped-fetch.js';
import { generateStampKey } from '../../client/browser-key.js';
import { isIpStampClientError } from '../../client/client-error.js';
import { createTicketIssuer, type TicketIssuer } from '../../server/issuer/issuer.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifyInput } from '../../server/verify/types.js';
import { MapReplayStore } from '../support/map-store.js';

/** Plain node:http glue around the pure cores: the SDK's ticket mode against real sockets. */
function input(req: IncomingMessage): VerifyInput {
  return { method: req.method!, url: req.url!, headers: req.headers, hints: { l3: req.socket.remoteAddress } };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

let issuer: TicketIssuer;
let issuerUrl: string;
let apiUrl: string;
let issuerRequests = 0;
let corruptNext = false;
let unverifiable = false;
const servers: Server[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  const issuerServer = createServer(async (req, res) => {
    issuerRequests++;
    const r = await (
      unverifiable
        ? createTicketIssuer({
            key: { ...(await exportJWK(pair.privateKey)), kid: 'edge', alg: 'EdDSA' },
            replayStore: new MapReplayStore(),
            trustedProxies: 'loopback',
          })
        : issuer
    ).issue(input(req));
    if (!r.ok) {
      res.writeHead(r.status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ reason: r.reason, status: r.status }));
      return;
    }
    // one signature character changed, in the middle: the last ones may already be 'A' (S < L
    // leaves the top bits of an Ed25519 signature zero), which made this corruption no change
    const at = r.ticket.length - 20;
    const ticket = corruptNext ? r.ticket.slice(0, at) + (r.ticket[at] === 'A' ? 'B' : 'A') + r.ticket.slice(at + 1) : r.ticket;
    corruptNext = false;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ ticket, ip: r.ip, exp: r.exp }));
  });
  servers.push(issuerServer);
  issuerUrl = await listen(issuerServer);
  issuer = createTicketIssuer({
    key: { ...(await exportJWK(pair.privateKey)), kid: 'edge', alg: 'EdDSA' },
    origin: issuerUrl,
    replayStore: new MapReplayStore(),
  });

  // the API sits behind a hop it trusts (loopback): it cannot see the client, the ticket can
  const api = createVerifierCore({ keys: { keys: [] }, issuers: { [issuerUrl]: issuer.jwks }, replayStore: new MapReplayStore(), trustedProxies: 'loopback' });
  const apiServer = createServer(async (req, res) => {
    const r = await api.verify(input(req));
    if (!r.ok) {
      res.writeHead(r.status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ reason: r.reason, status: r.status }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r.verdict));
  });
  servers.push(apiServer);
  apiUrl = await listen(apiServer);
});

afterAll(() => servers.forEach((s) => s.close()));

describe("createStampedFetch with ip: 'ticket'", () => {
  it('gets one ticket, carries it on every request, and is accepted without registration', async () => {
    issuerRequests = 0;
    const key = await generateStampKey({ alg: 'ES256' });
    const fetch = createStampedFetch({ key, ip: 'ticket', issuer: issuerUrl });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${apiUrl}/orders`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ source: 'ticket', issuer: issuerUrl, ip: '127.0.0.1', kid: key.kid, obs: 'ticket' });
    }
    expect(issuerRequests).toBe(1);
  });

  it('on bad-ticket, asks for a new ticket once and retries once', async () => {
    issuerRequests = 0;
    corruptNext = true;
    const fetch = createStampedFetch({ key: await generateStampKey({ alg: 'EdDSA' }), ip: 'ticket', issuer: issuerUrl });
    const res = await fetch(`${apiUrl}/orders`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(issuerRequests).toBe(2);
  });

  it('an issuer that cannot observe the client surfaces a typed error with its reason', async () => {
    unverifiable = true;
    try {
      const fetch = createStampedFetch({ key: await generateStampKey(), ip: 'ticket', issuer: issuerUrl });
      const error = await fetch(`${apiUrl}/orders`).catch((e: unknown) => e);
      expect(isIpStampClientError(error) && error.code).toBe('ERR_IPSTAMP_TICKET_FAILED');
      expect((error as { cause: { reason: string } }).cause.reason).toBe('ip-unverifiable');
    } finally {
      unverifiable = false;
    }
  });

  it('refuses a symmetric key or a missing issuer at setup', async () => {
    const hs = { kty: 'oct', k: Buffer.alloc(32).toString('base64url'), kid: 'h', alg: 'HS256' };
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: hs, ip: 'ticket', issuer: issuerUrl })).toThrow(TypeError);
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: hs, ip: 'ticket' })).toThrow(/issuer/);
  });
});
