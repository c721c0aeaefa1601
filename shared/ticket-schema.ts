import { z } from 'zod';
import { isCanonicalClaimAddress } from './address.js';
import { FORBIDDEN_HEADER_MEMBERS, kidSchema } from './schema.js';
import { BASE64URL_SHA256_PATTERN } from './token-checks.js';

/** PROTOCOL.md §7: tickets — an issuer's signature over the address it observed, bound to the client's key. */

import { MAX_TICKET_LIFETIME, TICKET_ALGS, TICKET_REQUEST_TYP, TICKET_TYP } from './constants.js';

export {
  TICKET_TYP,
  TICKET_REQUEST_TYP,
  MAX_TICKET_BYTES,
  MAX_TICKET_LIFETIME,
  TICKET_PATH,
  ISSUER_JWKS_PATH,
  TICKET_ALGS,
  type TicketAlg,
} from './constants.js';

const b64u = (min: number, max: number) => z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${min},${max}}$`));

/** A client's public key as tickets carry it: P-256 or Ed25519, public members only. */
export const clientPublicJwkSchema = z
  .union([
    z.looseObject({ kty: z.literal('EC'), crv: z.literal('P-256'), x: b64u(43, 43), y: b64u(43, 43) }),
    z.looseObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: b64u(43, 43) }),
  ])
  .refine((jwk) => !Object.hasOwn(jwk, 'd') && !Object.hasOwn(jwk, 'k'));
export type ClientPublicJwk = z.infer<typeof clientPublicJwkSchema>;

const epochSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const jti = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/);

/** §7.1: the proof a client sends to ask for a ticket. The only token type that carries a key. */
export const ticketRequestHeaderSchema = z
  .looseObject({
    alg: z.enum(TICKET_ALGS),
    typ: z.literal(TICKET_REQUEST_TYP),
    jwk: clientPublicJwkSchema,
  })
  .refine((h) => FORBIDDEN_HEADER_MEMBERS.every((m) => m === 'jwk' || !Object.hasOwn(h, m)));
export type TicketRequestHeader = z.infer<typeof ticketRequestHeaderSchema>;

export const ticketRequestClaimsSchema = z.looseObject({
  iat: epochSeconds,
  // optional, and used at steps 8 and 9 when present: so held to §2.2's rules, as a stamp's are
  exp: epochSeconds.optional(),
  jti,
  htm: z.literal('POST'),
  htu: z
    .string()
    .max(2048)
    .regex(/^https?:\/\/[^/?#\s]+\/[^?#\s]*$/),
  cdg: z.string().regex(BASE64URL_SHA256_PATTERN).optional(),
});
export type TicketRequestClaims = z.infer<typeof ticketRequestClaimsSchema>;

/** §7.2: the ticket itself. */
export const ticketHeaderSchema = z
  .looseObject({
    alg: z.enum(TICKET_ALGS),
    typ: z.literal(TICKET_TYP),
    kid: kidSchema,
  })
  .refine((h) => FORBIDDEN_HEADER_MEMBERS.every((m) => !Object.hasOwn(h, m)));
export type TicketHeader = z.infer<typeof ticketHeaderSchema>;

export const ticketClaimsSchema = z
  .looseObject({
    iss: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^/?#\s]+$/),
    ip: z.string().max(2048).refine(isCanonicalClaimAddress),
    iat: epochSeconds,
    exp: epochSeconds,
    jti,
    cnf: z.looseObject({ jwk: clientPublicJwkSchema }),
  })
  .refine((c) => c.exp > c.iat && c.exp <= c.iat + MAX_TICKET_LIFETIME);
export type TicketClaims = z.infer<typeof ticketClaimsSchema>;

/** The body of a 200 from the ticket endpoint (checked by hand in client/ticket-holder.ts, which browsers load without zod). */
export interface TicketResponse {
  ticket: string;
  ip: string;
  exp: number;
}

export { thumbprintInput } from './token-checks.js';
