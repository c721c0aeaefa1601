import { Hono } from 'hono';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateStampKey } from '../../client/browser-key.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';

/**
 * Regression (review of the issuer, finding 1), through the Hono middleware (the node:http
 * middleware uses the same TicketRateLimiter): the limiter held 10,000 keys and refused every
 * key it had not seen once they were live, so 10,000 proof-less requests from 10,000 /64s of
 * one /48 denied tickets to every new client for the rest of the minute.
 */
const EDGE = 'http://edge.example';
const TICKET_URL = `${EDGE}/.well-known/ipstamp/ticket`;

describe('the Hono ticket route under a flood of /64s', () => {
  it('after 12,000 proof-less requests from 12,000 /64s, a new client still gets its ticket (default limit)', async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    let peer = '';
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(ipstamp({ keys: { keys: [] }, origins: [EDGE], issuer: { key: issuerKey }, connection: () => ({ l3: peer }) }));

    const answers = new Map<number, number>();
    for (let j = 0; j < 12_000; j++) {
      peer = `2001:db8:ffff:${j.toString(16)}::1`;
      const { status } = await app.request(TICKET_URL, { method: 'POST' });
      answers.set(status, (answers.get(status) ?? 0) + 1);
    }
    expect(Object.fromEntries(answers)).toEqual({ 401: 12_000 });

    const client = await generateStampKey({ alg: 'ES256' });
    for (const victim of ['198.51.100.9', '2001:db8:1:1::5']) {
      peer = victim;
      const proof = await createTicketRequestProof(client, TICKET_URL);
      const res = await app.request(TICKET_URL, { method: 'POST', headers: { 'client-ip-attestation': proof } });
      expect([victim, res.status]).toEqual([victim, 200]);
    }
  }, 60_000);
});
