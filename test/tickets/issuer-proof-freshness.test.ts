import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTicketRequestProof, type TicketKey } from '../../client/ticket-proof.js';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * PROTOCOL §7.1: the issuer runs §5 steps 1–10 on the proof — steps 7–8 included. A proof
 * signed long ago (captured, replayed once its replay-store entry has expired) or far in the
 * future must not buy a ticket.
 */
const EDGE = 'https://edge.example.com';
const NOW = 1_767_225_600_000;

let issuerJwk: JWK;
let client: TicketKey;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  issuerJwk = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  client = { privateKey, publicJwk: (await exportJWK(publicKey)) as ClientPublicJwk, alg: 'ES256' };
});

async function askSignedAt(signedAtMs: number): Promise<string> {
  const issuer = createTicketIssuer({ key: issuerJwk, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore(), now: () => NOW, maxAge: 30, skew: 5 });
  const proof = await createTicketRequestProof(client, `${EDGE}/.well-known/ipstamp/ticket`, () => signedAtMs);
  const r = await issuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
    hints: { l3: '127.0.0.5' },
  });
  return r.ok ? 'issued' : r.reason;
}

describe('issuer: the proof must be fresh (§5 steps 7–8)', () => {
  it('now − iat = maxAge + skew is fresh; one second more is expired', async () => {
    expect(await askSignedAt(NOW - 35_000)).toBe('issued');
    expect(await askSignedAt(NOW - 36_000)).toBe('expired');
    expect(await askSignedAt(NOW - 3_600_000)).toBe('expired');
  });

  it('iat = now + skew is fresh; one second more is not-yet-valid', async () => {
    expect(await askSignedAt(NOW + 5_000)).toBe('issued');
    expect(await askSignedAt(NOW + 6_000)).toBe('not-yet-valid');
  });
});
