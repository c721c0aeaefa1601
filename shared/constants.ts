/**
 * The envelope's fixed values (PROTOCOL.md §2, §7), free of zod so that browser code can
 * import them without pulling a schema library into its bundle. The schemas in schema.ts and
 * ticket-schema.ts are built from these.
 */
export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGS = ['ES256', 'ES384', 'EdDSA', 'Ed25519'] as const;
export const STAMP_ALGS = [...HMAC_ALGS, ...ASYMMETRIC_ALGS] as const;
export type StampAlg = (typeof STAMP_ALGS)[number];
export type HmacAlg = (typeof HMAC_ALGS)[number];
/** RFC 7518 §3.2: an HMAC key at least as long as its hash output; PROTOCOL §2.3 asks 32 bytes for all. */
export const MIN_HMAC_SECRET_BYTES = 32;

export const STAMP_HEADER = 'client-ip-attestation';
export const TICKET_HEADER = 'client-ip-ticket';
export const STAMP_TYP = 'ipstamp+jwt';
export const TICKET_TYP = 'ipstamp-ticket+jwt';
export const TICKET_REQUEST_TYP = 'ipstamp-ticket-req+jwt';
export const MAX_STAMP_BYTES = 4096;
export const MAX_STRING_CLAIM = 2048;

export const KID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export function isKid(value: unknown): value is string {
  return typeof value === 'string' && KID_PATTERN.test(value);
}

export const MAX_TICKET_BYTES = 2048;
export const MAX_TICKET_LIFETIME = 600;
/** PROTOCOL.md §6: where a verifier tells a client the address it sees. */
export const ECHO_PATH = '/.well-known/ipstamp';
export const TICKET_PATH = '/.well-known/ipstamp/ticket';
export const ISSUER_JWKS_PATH = '/.well-known/ipstamp/issuer-jwks';
export const TICKET_ALGS = ['ES256', 'EdDSA'] as const;
export type TicketAlg = (typeof TICKET_ALGS)[number];
