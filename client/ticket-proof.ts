import { calculateJwkThumbprint, CompactSign, type JWK, type KeyObject } from 'jose';
import { normalizeHtu } from '../shared/htu.js';
import { TICKET_REQUEST_TYP } from '../shared/constants.js';
import { publicJwkOf } from '../shared/public-jwk.js';
import type { ClientPublicJwk, TicketAlg } from '../shared/ticket-schema.js';
import { randomJti } from './stamper.js';

/** A client key that can hold a ticket: asymmetric, its public JWK beside the private key. */
export interface TicketKey {
  privateKey: CryptoKey | KeyObject | Uint8Array | JWK;
  publicJwk: ClientPublicJwk;
  alg: TicketAlg;
}

/** The kid of a ticket-bound stamp: the RFC 7638 thumbprint of the client's public key (PROTOCOL.md §7.3). */
export function ticketKid(publicJwk: ClientPublicJwk): Promise<string> {
  return calculateJwkThumbprint(publicJwk as JWK, 'sha256');
}

/** PROTOCOL.md §7.1: the proof JWS a client sends to `POST /.well-known/ipstamp/ticket`. */
export async function createTicketRequestProof(key: TicketKey, ticketUrl: string | URL, now: () => number = Date.now): Promise<string> {
  const jwk = publicJwkOf(key.publicJwk);
  const claims = { iat: Math.floor(now() / 1000), jti: randomJti(), htm: 'POST', htu: normalizeHtu(ticketUrl) };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: key.alg, typ: TICKET_REQUEST_TYP, jwk })
    .sign(key.privateKey as CryptoKey);
}
