export { REASONS, REASON_TITLES, REASON_STATUS, isReason, type Reason } from './reasons.js';
export { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf, SERVICE_REASON_STATUS, type IpStampProblem, type ServiceProblem } from './problem.js';
export { SERVICE_REASONS, SERVICE_REASON_TITLES, isServiceReason, type ServiceReason } from './service-reasons.js';
export { IpStampError, isIpStampError, errorCodeOf, type IpStampErrorCode } from './errors.js';
export { canonicalAddress, hintAddress, isCanonicalClaimAddress, sameAddress, parseIPv4, parseIPv6, formatIPv6 } from './address.js';
export {
  STAMP_ALGS,
  HMAC_ALGS,
  ASYMMETRIC_ALGS,
  STAMP_HEADER,
  TICKET_HEADER,
  STAMP_TYP,
  MAX_STAMP_BYTES,
  FORBIDDEN_HEADER_MEMBERS,
  OBSERVATION_SOURCES,
  stampHeaderSchema,
  stampClaimsSchema,
  kidSchema,
  type StampAlg,
  type HmacAlg,
  type StampHeader,
  type StampClaims,
  type ObservationSource,
} from './schema.js';
export type { ClientPublicJwk, TicketResponse } from './ticket-schema.js';
export { normalizeHtu, normalizeOrigin } from './htu.js';
export { encodeBase64url, decodeBase64url } from './base64url.js';
export { parseStrictJsonObject } from './strict-json.js';
