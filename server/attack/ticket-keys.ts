import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { ClientPublicJwk, TicketAlg } from '../../shared/ticket-schema.js';
import { jwkThumbprint } from '../jws/public-jwk.js';

/**
 * The harness's own ticket keys. A ticket needs no registration — the issuer vouches for
 * whatever public key the proof carries — so the harness makes fresh ones for each run
 * instead of asking the user for a second key file.
 */
export interface TicketSigningKey {
  readonly alg: TicketAlg;
  /** The RFC 7638 thumbprint: a ticket-bound stamp's kid. */
  readonly kid: string;
  readonly publicJwk: ClientPublicJwk;
  /** The private JWK with kid and alg, as a client key file would hold it. */
  readonly privateJwk: Readonly<Record<string, unknown>> & { kid: string; alg: string };
  signInput(input: string): Buffer;
}

function publicMembers(key: KeyObject): ClientPublicJwk {
  const { kty, crv, x, y } = createPublicKey(key).export({ format: 'jwk' });
  return (kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x }) as ClientPublicJwk;
}

export function generateTicketKey(alg: TicketAlg): TicketSigningKey {
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const publicJwk = publicMembers(privateKey);
  const kid = jwkThumbprint(publicJwk);
  return {
    alg,
    kid,
    publicJwk,
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg },
    signInput: (input) =>
      alg === 'ES256'
        ? sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
        : sign(null, Buffer.from(input), privateKey),
  };
}

export function segment(part: Readonly<Record<string, unknown>> | string): string {
  return Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
}

/** base64url SHA-256 of a ticket's text: what a stamp's `tth` must be (PROTOCOL.md §7.3). */
export function ticketHash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}

/** The JSON of one segment of a compact JWS, or an empty object when it is not one. */
export function decodeSegment(token: string, index: 0 | 1): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
