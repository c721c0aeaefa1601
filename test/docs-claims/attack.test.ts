import Fastify from 'fastify';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runAttacks } from '../../server/attack/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MapReplayStore } from '../support/map-store.js';
import { startVerifierServer } from '../attack/verifier-server.js';

/**
 * docs/attack.md, "Rate limit": "A full ticket run needs 11 of them from its own address (13
 * with --proxy-address)" — the figure a user compares with the issuer's limit. The ticket
 * lifetime is the default 300 s, so the expiry attack is skipped, as the page says.
 */
const EDGE = 'http://edge.example';
const opened: { close(): Promise<unknown> }[] = [];
afterAll(async () => {
  for (const thing of opened.reverse()) await thing.close();
});

async function startIssuer(): Promise<{ origin: string; jwks: { keys: JWK[] } }> {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const key = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  const app = Fastify();
  await app.register(ipstamp, { keys: { keys: [] }, issuer: { key, origin: EDGE, rateLimit: 100 }, trustedProxies: ['127.0.0.42'] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  opened.push(app);
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const jwks = (await (await fetch(`${origin}/.well-known/ipstamp/issuer-jwks`)).json()) as { keys: JWK[] };
  return { origin, jwks };
}

describe('docs/attack.md: the ticket requests a full ticket run needs', () => {
  it('11 from its own address, 13 with --proxy-address', async () => {
    const issuer = await startIssuer();
    const server = await startVerifierServer({
      verify: createVerifierCore({ keys: { keys: [] }, issuers: { [EDGE]: issuer.jwks }, replayStore: new MapReplayStore() }).verify,
      proxyPeers: ['127.0.0.9'],
    });
    opened.push(server);
    const plain = await runAttacks({ target: server.url, issuer: issuer.origin, localAddress: '127.0.0.41' });
    expect(plain.verdict).toBe('SAFE');
    expect(plain.ticketRequests).toEqual({ needed: 11, sent: 11, limit: 100, left: 89 });
    const withProxy = await runAttacks({ target: server.url, issuer: issuer.origin, localAddress: '127.0.0.43', proxyAddress: '127.0.0.42' });
    expect(withProxy.verdict).toBe('SAFE');
    expect(withProxy.ticketRequests).toMatchObject({ needed: 13, sent: 13 });
  });
});
