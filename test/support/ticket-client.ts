import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createTicketRequestProof, ticketKid } from '../../client/ticket-proof.js';
import type { createTicketIssuer } from '../../server/issuer/issuer.js';
import type { ClientPublicJwk, TicketAlg } from '../../shared/ticket-schema.js';

/** A client key of `alg` and the ticket an issuer gave it. */
export interface TicketClient {
  privateJwk: JWK;
  kid: string;
  alg: TicketAlg;
  ticket: string;
}

/**
 * Generates a client key, proves it to `issue` at `edge`'s ticket route (HTTPS, Host the
 * edge's) from `address`, and returns it with its ticket; throws if the issuer refused.
 */
export async function ticketClientOf(
  issue: ReturnType<typeof createTicketIssuer>['issue'],
  alg: TicketAlg,
  { edge, address, nowMs }: { edge: string; address: string; nowMs: number },
): Promise<TicketClient> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const publicJwk = (await exportJWK(publicKey)) as ClientPublicJwk;
  const proof = await createTicketRequestProof({ privateKey, publicJwk, alg }, `${edge}/.well-known/ipstamp/ticket`, () => nowMs);
  const issued = await issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: new URL(edge).host, 'client-ip-attestation': proof },
    hints: { l3: address },
  });
  if (!issued.ok) throw new Error(`no ticket: ${issued.reason}`);
  return { privateJwk: await exportJWK(privateKey), kid: await ticketKid(publicJwk), alg, ticket: issued.ticket };
}
