import { createHash } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifyResult } from '../../server/verify/types.js';
import { createWebVerifier } from '../../server/web/index.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';
import { ticketClientOf, type TicketClient } from '../support/ticket-client.js';

/**
 * PROTOCOL §7.3–7.4: a ticket-bound stamp's `alg` must fit the ticket's key — ES256 for P-256,
 * `EdDSA` or `Ed25519` for Ed25519 — else `bad-signature`. The curve decides, not the token: a
 * P-256 key can compute a valid ECDSA signature over SHA-384 too, and that stamp, named ES384,
 * must not pass (mutation testing: letting a P-256 ticket key sign ES384 went unnoticed).
 */
const NOW_S = 1_767_225_600;
const EDGE = 'https://edge.example.com';
const API = 'https://api.example.com';
const CLIENT = '203.0.113.7';

let es: TicketClient;
let ed: TicketClient;
let issuerJwks: { keys: Record<string, unknown>[] };
beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const issuer = createTicketIssuer({
    key: { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' },
    origin: EDGE,
    origins: [EDGE],
    replayStore: new MapReplayStore(),
    now: () => NOW_S * 1000,
  });
  issuerJwks = issuer.jwks as never;
  const client = { edge: EDGE, address: CLIENT, nowMs: NOW_S * 1000 };
  [es, ed] = await Promise.all([ticketClientOf(issuer.issue, 'ES256', client), ticketClientOf(issuer.issue, 'EdDSA', client)]);
});

let n = 0;
/** A stamp carrying `client`'s ticket, its header naming `alg` and signed as `signAs` with the ticket's key. */
function stampWith(client: TicketClient, alg: string, signAs = alg): string {
  return signRaw(
    client.privateJwk as Record<string, unknown>,
    { alg, typ: 'ipstamp+jwt', kid: client.kid },
    {
      ip: CLIENT,
      iat: NOW_S,
      jti: `alg-fit-${String(++n).padStart(16, '0')}`,
      htm: 'GET',
      htu: `${API}/orders`,
      obs: 'ticket',
      tth: createHash('sha256').update(client.ticket).digest('base64url'),
    },
    signAs,
  );
}

async function outcomes(client: TicketClient, stamp: string): Promise<string[]> {
  const options = { keys: { keys: [] }, issuers: { [EDGE]: issuerJwks }, now: () => NOW_S * 1000, origins: [API] };
  const input = {
    method: 'GET',
    url: '/orders',
    headers: { host: 'api.example.com', 'client-ip-attestation': stamp, 'client-ip-ticket': client.ticket },
    hints: { l3: CLIENT },
  };
  const node = createVerifierCore({ ...options, replayStore: new MapReplayStore() });
  const web = createWebVerifier({ ...options, replayStore: new MapReplayStore() });
  const reason = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);
  return [reason(await node.verify(input)), reason(await web.verifyInput(input))];
}

describe('a ticket-bound stamp: its alg must fit the ticket key (PROTOCOL §7.3, §7.4 step 5)', () => {
  it('a P-256 key signs ES256 only: the same key signing ES384 (ECDSA over SHA-384) is bad-signature', async () => {
    expect(await outcomes(es, stampWith(es, 'ES256'))).toEqual(['accepted', 'accepted']);
    expect(await outcomes(es, stampWith(es, 'ES384'))).toEqual(['bad-signature', 'bad-signature']);
  });

  it('an Ed25519 key signs EdDSA and Ed25519 alike, and nothing else', async () => {
    expect(await outcomes(ed, stampWith(ed, 'EdDSA'))).toEqual(['accepted', 'accepted']);
    expect(await outcomes(ed, stampWith(ed, 'Ed25519', 'EdDSA'))).toEqual(['accepted', 'accepted']);
    expect(await outcomes(ed, stampWith(ed, 'ES256', 'EdDSA'))).toEqual(['bad-signature', 'bad-signature']);
  });

  it('an HMAC alg never reaches the ticket key: bad-signature, not a thrown error (node:crypto refuses a public key as an HMAC secret)', async () => {
    const hmac = (client: TicketClient, alg: string) => {
      const [h, p] = stampWith(client, client === es ? 'ES256' : 'EdDSA').split('.');
      const header = Buffer.from(JSON.stringify({ alg, typ: 'ipstamp+jwt', kid: client.kid })).toString('base64url');
      return `${header}.${p}.${h!.slice(0, 43)}`;
    };
    for (const client of [es, ed]) {
      for (const alg of ['HS256', 'HS384', 'HS512']) expect(await outcomes(client, hmac(client, alg)), alg).toEqual(['bad-signature', 'bad-signature']);
    }
  });
});
