import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { listenOnFreePort } from '../support/ports.js';

/**
 * An issuer's JWK Set fetched from its URL (review of 2026-12-06): a small-order Ed25519 key
 * there was taken as is, where the same set given inline is refused at setup; and while the
 * URL failed with jose's copy stale, every ticket — a forged one too — sent a fetch.
 */
const ISS = 'https://issuer.example';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const IDENTITY_X = Buffer.from(`01${'00'.repeat(31)}`, 'hex').toString('base64url');

let published: () => { status: number; body: unknown } = () => ({ status: 200, body: { keys: [] } });
let fetches = 0;
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((_req, res) => {
    fetches++;
    const { status, body } = published();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  url = `http://127.0.0.1:${await listenOnFreePort(server)}/jwks`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A ticket whose signature is R = the identity point, S = 0: what verifies under a small-order key. */
function trivialTicket(kid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const client = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const claims = {
    iss: ISS,
    ip: '203.0.113.9',
    iat: now,
    exp: now + 300,
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
    cnf: { jwk: { kty: 'OKP', crv: 'Ed25519', x: client.x } },
  };
  const signature = Buffer.concat([Buffer.from(IDENTITY_X, 'base64url'), Buffer.alloc(32)]).toString('base64url');
  return `${b64({ alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid })}.${b64(claims)}.${signature}`;
}

describe('issuer keys fetched from a URL', () => {
  it('a small-order Ed25519 key in the set verifies no ticket (inline, the same set is refused at setup)', async () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: IDENTITY_X, kid: 'iss-small', alg: 'EdDSA' }] };
    published = () => ({ status: 200, body: jwks });
    expect(() => createTicketVerifier({ [ISS]: jwks }, 5, nodePlatform)).toThrow(/small order/);
    const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
    expect(await verify(trivialTicket('iss-small'), Date.now())).toBeUndefined();
  });

  it('while the URL fails and the copy is stale, forged tickets send one fetch per cooldown, not one each', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    published = () => ({ status: 200, body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'iss-1', alg: 'EdDSA' }] } });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
      await verify(trivialTicket('iss-1'), Date.now()); // loads the set
      published = () => ({ status: 500, body: {} });
      vi.advanceTimersByTime(601_000); // jose's copy is stale now
      const before = fetches;
      for (let i = 0; i < 20; i++) expect(await verify(trivialTicket('iss-1'), Date.now())).toBeUndefined();
      expect(fetches - before).toBe(1);
      vi.advanceTimersByTime(31_000);
      for (let i = 0; i < 5; i++) await verify(trivialTicket('iss-1'), Date.now());
      expect(fetches - before).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
