import { isCanonicalClaimAddress } from './address.js';
import { isKid, MAX_STRING_CLAIM, MAX_TICKET_LIFETIME, STAMP_ALGS, STAMP_TYP, TICKET_ALGS, TICKET_REQUEST_TYP, TICKET_TYP } from './constants.js';
import { publicJwkOf, type PublicJwk } from './public-jwk.js';

/*
 * Compiled twins of the envelope's schemas (schema.ts, ticket-schema.ts): the same rules as
 * plain comparisons, with no schema library — about twenty times cheaper than a zod parse, and
 * what lets the web verifier (ipstamp/web) carry no zod at all. The schemas stay the
 * definitions and the types are inferred from them (so a twin answers a boolean here, and
 * schema.ts gives it its type guard); test/verify/claims-check.property.test.ts
 * and test/web/token-checks.property.test.ts prove each twin accepts exactly what its schema
 * accepts, for any value JSON.parse can return.
 */

/** Header members that would let a token choose its own key or processing rules. */
export const FORBIDDEN_HEADER_MEMBERS = ['crit', 'b64', 'jku', 'jwk', 'x5u', 'x5c', 'x5t', 'zip'] as const;

/** The claim patterns, shared by the schemas and their twins so the two cannot drift. */
export const BASE64URL_SHA256_PATTERN = /^[A-Za-z0-9_-]{43}$/;
export const JTI_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;
// an HTTP method token, upper case as sent (RFC 9110 §9.1 token characters minus lower case)
export const HTM_PATTERN = /^[A-Z0-9!#$%&'*+.^_`|~-]+$/;
export const HTU_PATTERN = /^https?:\/\/[^/?#\s]+\/[^?#\s]*$/;
export const ISS_PATTERN = /^https?:\/\/[^/?#\s]+$/;
const COORDINATE_PATTERN = /^[A-Za-z0-9_-]{43,43}$/;

export const OBSERVATION_SOURCES = ['static', 'socket', 'echo', 'ticket'] as const;
export type ObservationSource = (typeof OBSERVATION_SOURCES)[number];

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isEpochSeconds = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER;
const isClaimString = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_STRING_CLAIM;
const isOptionalDigest = (value: unknown): boolean => value === undefined || (typeof value === 'string' && BASE64URL_SHA256_PATTERN.test(value));
const matches = (pattern: RegExp, value: unknown): boolean => typeof value === 'string' && pattern.test(value);
const hasNoneOf = (value: Record<string, unknown>, members: readonly string[]): boolean => members.every((m) => !Object.hasOwn(value, m));

/** True exactly when `stampClaimsSchema.safeParse(value).success` would be, for any value JSON.parse can return. */
export function matchesStampClaims(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { ip, exp, jti, htm, htu, obs } = value;
  return (
    isClaimString(ip) &&
    isCanonicalClaimAddress(ip) &&
    isEpochSeconds(value.iat) &&
    (exp === undefined || isEpochSeconds(exp)) &&
    matches(JTI_PATTERN, jti) &&
    isClaimString(htm) &&
    HTM_PATTERN.test(htm) &&
    isClaimString(htu) &&
    HTU_PATTERN.test(htu) &&
    (obs === undefined || (OBSERVATION_SOURCES as readonly unknown[]).includes(obs)) &&
    isOptionalDigest(value.cdg) &&
    isOptionalDigest(value.tth)
  );
}

/** True exactly when `stampHeaderSchema.safeParse(value).success` would be. */
export function matchesStampHeader(value: unknown): boolean {
  return (
    isObject(value) &&
    (STAMP_ALGS as readonly unknown[]).includes(value.alg) &&
    value.typ === STAMP_TYP &&
    isKid(value.kid) &&
    hasNoneOf(value, FORBIDDEN_HEADER_MEMBERS)
  );
}

/** True exactly when `ticketHeaderSchema.safeParse(value).success` would be. */
export function matchesTicketHeader(value: unknown): boolean {
  return (
    isObject(value) &&
    (TICKET_ALGS as readonly unknown[]).includes(value.alg) &&
    value.typ === TICKET_TYP &&
    isKid(value.kid) &&
    hasNoneOf(value, FORBIDDEN_HEADER_MEMBERS)
  );
}

/** True exactly when `clientPublicJwkSchema.safeParse(value).success` would be. */
export function matchesClientPublicJwk(value: unknown): boolean {
  if (!isObject(value) || !hasNoneOf(value, ['d', 'k'])) return false;
  if (value.kty === 'EC') return value.crv === 'P-256' && matches(COORDINATE_PATTERN, value.x) && matches(COORDINATE_PATTERN, value.y);
  return value.kty === 'OKP' && value.crv === 'Ed25519' && matches(COORDINATE_PATTERN, value.x);
}

/** True exactly when `ticketRequestHeaderSchema.safeParse(value).success` would be (§7.1: the one header that carries `jwk`). */
export function matchesTicketRequestHeader(value: unknown): boolean {
  return (
    isObject(value) &&
    (TICKET_ALGS as readonly unknown[]).includes(value.alg) &&
    value.typ === TICKET_REQUEST_TYP &&
    matchesClientPublicJwk(value.jwk) &&
    hasNoneOf(value, FORBIDDEN_BESIDE_JWK)
  );
}
const FORBIDDEN_BESIDE_JWK = FORBIDDEN_HEADER_MEMBERS.filter((m) => m !== 'jwk');

/** True exactly when `ticketRequestClaimsSchema.safeParse(value).success` would be. */
export function matchesTicketRequestClaims(value: unknown): boolean {
  return (
    isObject(value) &&
    isEpochSeconds(value.iat) &&
    (value.exp === undefined || isEpochSeconds(value.exp)) &&
    matches(JTI_PATTERN, value.jti) &&
    value.htm === 'POST' &&
    isClaimString(value.htu) &&
    HTU_PATTERN.test(value.htu) &&
    isOptionalDigest(value.cdg)
  );
}

/** True exactly when `ticketClaimsSchema.safeParse(value).success` would be. */
export function matchesTicketClaims(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { iss, ip, iat, exp, jti, cnf } = value;
  return (
    isClaimString(iss) &&
    ISS_PATTERN.test(iss) &&
    isClaimString(ip) &&
    isCanonicalClaimAddress(ip) &&
    isEpochSeconds(iat) &&
    isEpochSeconds(exp) &&
    matches(JTI_PATTERN, jti) &&
    isObject(cnf) &&
    matchesClientPublicJwk(cnf.jwk) &&
    (exp as number) > (iat as number) &&
    (exp as number) <= (iat as number) + MAX_TICKET_LIFETIME
  );
}

/** The members RFC 7638 hashes, in their lexicographic order, for the two key types tickets allow. */
export function thumbprintInput(jwk: PublicJwk): string {
  return JSON.stringify(publicJwkOf(jwk));
}
