import { TICKET_TYP } from '../../shared/constants.js';
import { publicJwkOf, type PublicJwk } from '../../shared/public-jwk.js';

/**
 * A ticket as an issuer hands it out (PROTOCOL §7.2), with `tag` in place of a signature: what a
 * test's own issuer answers when no verifier will check the signature. The client reads the
 * claims (its `ip`, `exp` and `cnf.jwk` must match the answer and its key) but never the
 * signature, so `tag` tells the tickets apart (`ticketTag`).
 */
export function unsignedTicket(fields: { ip: string; exp: number; jwk: PublicJwk }, tag = 'unsigned'): string {
  const header = { alg: fields.jwk.kty === 'EC' ? 'ES256' : 'EdDSA', typ: TICKET_TYP, kid: 'test-issuer' };
  const claims = {
    iss: 'https://edge.test',
    ip: fields.ip,
    iat: fields.exp - 60,
    exp: fields.exp,
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
    cnf: { jwk: publicJwkOf(fields.jwk) },
  };
  return [header, claims].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + '.' + Buffer.from(tag).toString('base64url');
}

/** The `tag` an `unsignedTicket` was made with. */
export function ticketTag(ticket: string): string {
  return Buffer.from(ticket.split('.')[2] ?? '', 'base64url').toString('utf8');
}

/** The 200 body of an issuer that hands out `unsignedTicket(fields, tag)`. */
export function unsignedTicketAnswer(fields: { ip: string; exp: number; jwk: PublicJwk }, tag?: string): { ticket: string; ip: string; exp: number } {
  return { ticket: unsignedTicket(fields, tag), ip: fields.ip, exp: fields.exp };
}
