import { z } from 'zod';
import { isCanonicalClaimAddress } from './address.js';

/**
 * The envelope of PROTOCOL.md §2 as zod schemas. Every TypeScript type of the header and
 * claims is inferred from here, so client, verifier and CLI cannot drift apart.
 */

import { KID_PATTERN, MAX_STRING_CLAIM, STAMP_ALGS, STAMP_TYP } from './constants.js';
import { BASE64URL_SHA256_PATTERN, FORBIDDEN_HEADER_MEMBERS, HTM_PATTERN, HTU_PATTERN, JTI_PATTERN, OBSERVATION_SOURCES } from './token-checks.js';
import * as twins from './token-checks.js';

// the compiled twins and the patterns they share with the schemas below (zod-free: token-checks.ts)
export {
  BASE64URL_SHA256_PATTERN,
  FORBIDDEN_HEADER_MEMBERS,
  HTM_PATTERN,
  HTU_PATTERN,
  JTI_PATTERN,
  OBSERVATION_SOURCES,
  type ObservationSource,
} from './token-checks.js';

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

export const kidSchema = z.string().regex(KID_PATTERN);

const noForbiddenMembers = (header: Record<string, unknown>): boolean => FORBIDDEN_HEADER_MEMBERS.every((member) => !Object.hasOwn(header, member));

export const stampHeaderSchema = z
  .looseObject({
    alg: z.enum(STAMP_ALGS),
    typ: z.literal(STAMP_TYP),
    kid: kidSchema,
  })
  .refine(noForbiddenMembers);
export type StampHeader = z.infer<typeof stampHeaderSchema>;

const base64urlSha256 = z.string().regex(BASE64URL_SHA256_PATTERN);
const epochSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const claimString = z.string().max(MAX_STRING_CLAIM);

export const stampClaimsSchema = z.looseObject({
  ip: claimString.refine(isCanonicalClaimAddress),
  iat: epochSeconds,
  exp: epochSeconds.optional(),
  jti: z.string().regex(JTI_PATTERN),
  htm: claimString.regex(HTM_PATTERN),
  htu: claimString.regex(HTU_PATTERN),
  obs: z.enum(OBSERVATION_SOURCES).optional(),
  cdg: base64urlSha256.optional(),
  tth: base64urlSha256.optional(),
});
export type StampClaims = z.infer<typeof stampClaimsSchema>;

/** True exactly when `stampClaimsSchema.safeParse(value).success` would be, for any value JSON.parse can return (token-checks.ts). */
export const matchesStampClaims = twins.matchesStampClaims as (value: unknown) => value is StampClaims;

/** The claims as stampClaimsSchema reads them, or undefined when it refuses them. */
export function parseStampClaims(value: unknown): StampClaims | undefined {
  if (matchesStampClaims(value)) return value;
  const parsed = stampClaimsSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
