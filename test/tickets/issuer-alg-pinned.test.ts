import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

/**
 * PROTOCOL §7.4 (4): the issuer key named by the ticket's kid must have the ticket's alg
 * (pinned). §2.1: EdDSA and Ed25519 are different strings — a key with alg "Ed25519" does not
 * verify a token that says "EdDSA", though the signature itself would check.
 */
const ISS = 'https://issuer.example';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const issuer = generateKeyPairSync('ed25519');
const issuerJwk = issuer.publicKey.export({ format: 'jwk' });

function ticket(alg: string): string {
  const now = Math.floor(Date.now() / 1000);
  const client = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const input = `${b64({ alg, typ: 'ipstamp-ticket+jwt', kid: 'iss-1' })}.${b64({
    iss: ISS,
    ip: '203.0.113.9',
    iat: now,
    exp: now + 300,
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
    cnf: { jwk: { kty: 'OKP', crv: 'Ed25519', x: client.x } },
  })}`;
  return `${input}.${sign(null, Buffer.from(input), issuer.privateKey).toString('base64url')}`;
}

describe('an inline issuer JWK Set pins each key to its alg', () => {
  it('a key with alg EdDSA verifies a ticket that says EdDSA (control)', async () => {
    const verify = createTicketVerifier({ [ISS]: { keys: [{ ...issuerJwk, kid: 'iss-1', alg: 'EdDSA' }] } }, 5, nodePlatform);
    expect(await verify(ticket('EdDSA'), Date.now())).toMatchObject({ iss: ISS, ip: '203.0.113.9' });
  });

  it('a key with alg Ed25519 does not verify a ticket that says EdDSA', async () => {
    const verify = createTicketVerifier({ [ISS]: { keys: [{ ...issuerJwk, kid: 'iss-1', alg: 'Ed25519' }] } }, 5, nodePlatform);
    expect(await verify(ticket('EdDSA'), Date.now())).toBeUndefined();
  });
});
