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

const noForbiddenMembers = (header: Record<string, unknown>): boolean => FORBIDDEN_HEADER_MEMBERS.every((member) => !Object.hasOwn(header, member));

export const stampHeaderSchema = z
  .looseObject({
    alg: z.enum(STAMP_ALGS),
    typ: z.literal(STAMP_TYP),
    kid: kidSchema,
  })
  .refine(noForbiddenMembers);
export type StampHeader = z.infer<typeof stampHeaderSchema>;

/** The claim patterns, shared by the schema and its compiled twin below so the two cannot drift. */
export const BASE64URL_SHA256_PATTERN = /^[A-Za-z0-9_-]{43}$/;
export const JTI_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;
// an HTTP method token, upper case as sent (RFC 9110 §9.1 token characters minus lower case)
export const HTM_PATTERN = /^[A-Z0-9!#$%&'*+.^_`|~-]+$/;
export const HTU_PATTERN = /^https?:\/\/[^/?#\s]+\/[^?#\s]*$/;

const base64urlSha256 = z.string().regex(BASE64URL_SHA256_PATTERN);
const epochSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const claimString = z.string().max(MAX_STRING_CLAIM);

export const OBSERVATION_SOURCES = ['static', 'socket', 'echo', 'ticket'] as const;
export type ObservationSource = (typeof OBSERVATION_SOURCES)[number];

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

/*
 * The verifier's hot path reads claims through a compiled twin of stampClaimsSchema: the
 * same rules as plain comparisons, about twenty times cheaper than a zod parse. The schema
 * stays the definition — test/verify/claims-check.property.test.ts proves the twin accepts
 * exactly what the schema accepts, and parseStampClaims asks zod whenever the twin says no.
 */

const isEpochSeconds = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER;
const isClaimString = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_STRING_CLAIM;
const isOptionalDigest = (value: unknown): boolean => value === undefined || (typeof value === 'string' && BASE64URL_SHA256_PATTERN.test(value));

/** True exactly when `stampClaimsSchema.safeParse(value).success` would be, for any value JSON.parse can return. */
export function matchesStampClaims(value: unknown): value is StampClaims {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const c = value as Record<string, unknown>;
  const { ip, exp, jti, htm, htu, obs } = c;
  return (
    isClaimString(ip) &&
    isCanonicalClaimAddress(ip) &&
    isEpochSeconds(c.iat) &&
    (exp === undefined || isEpochSeconds(exp)) &&
    typeof jti === 'string' &&
    JTI_PATTERN.test(jti) &&
    isClaimString(htm) &&
    HTM_PATTERN.test(htm) &&
    isClaimString(htu) &&
    HTU_PATTERN.test(htu) &&
    (obs === undefined || (OBSERVATION_SOURCES as readonly unknown[]).includes(obs)) &&
    isOptionalDigest(c.cdg) &&
    isOptionalDigest(c.tth)
  );
}

/** The claims as stampClaimsSchema reads them, or undefined when it refuses them. */
export function parseStampClaims(value: unknown): StampClaims | undefined {
  if (matchesStampClaims(value)) return value;
  const parsed = stampClaimsSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
