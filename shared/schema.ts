import { z } from 'zod';
import { isCanonicalClaimAddress } from './address.js';

/**
 * The envelope of PROTOCOL.md §2 as zod schemas. Every TypeScript type of the header and
 * claims is inferred from here, so client, verifier and CLI cannot drift apart.
 */

import { KID_PATTERN, MAX_STRING_CLAIM, STAMP_ALGS, STAMP_TYP } from './constants.js';

export {
  HMAC_ALGS,
  ASYMMETRIC_ALGS,
  STAMP_ALGS,
  STAMP_HEADER,
  TICKET_HEADER,
  STAMP_TYP,
  MAX_STAMP_BYTES,
  MAX_STRING_CLAIM,
  type StampAlg,
  type HmacAlg,
} from './constants.js';

/** Header members that would let a token choose its own key or processing rules. */
export const FORBIDDEN_HEADER_MEMBERS = ['crit', 'b64', 'jku', 'jwk', 'x5u', 'x5c', 'x5t', 'zip'] as const;

export const kidSchema = z.string().regex(KID_PATTERN);

const noForbiddenMembers = (header: Record<string, unknown>): boolean =>
  FORBIDDEN_HEADER_MEMBERS.every((member) => !Object.hasOwn(header, member));

export const stampHeaderSchema = z
  .looseObject({
    alg: z.enum(STAMP_ALGS),
    typ: z.literal(STAMP_TYP),
    kid: kidSchema,
  })
  .refine(noForbiddenMembers);
export type StampHeader = z.infer<typeof stampHeaderSchema>;

const base64urlSha256 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const epochSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const claimString = z.string().max(MAX_STRING_CLAIM);

export const OBSERVATION_SOURCES = ['static', 'socket', 'echo', 'ticket'] as const;
export type ObservationSource = (typeof OBSERVATION_SOURCES)[number];

export const stampClaimsSchema = z.looseObject({
  ip: claimString.refine(isCanonicalClaimAddress),
  iat: epochSeconds,
  exp: epochSeconds.optional(),
  jti: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/),
  // an HTTP method token, upper case as sent (RFC 9110 §9.1 token characters minus lower case)
  htm: claimString.regex(/^[A-Z0-9!#$%&'*+.^_`|~-]+$/),
  htu: claimString.regex(/^https?:\/\/[^/?#\s]+\/[^?#\s]*$/),
  obs: z.enum(OBSERVATION_SOURCES).optional(),
  cdg: base64urlSha256.optional(),
  tth: base64urlSha256.optional(),
});
export type StampClaims = z.infer<typeof stampClaimsSchema>;
