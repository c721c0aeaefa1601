/**
 * The wire reason codes of PROTOCOL.md §5 and §7. A rejection carries exactly one,
 * and the code is stable: clients and dashboards key on it.
 */
export const REASONS = [
  'missing',
  'malformed',
  'bad-header',
  'bad-ticket',
  'unknown-key',
  'bad-signature',
  'bad-claims',
  'not-yet-valid',
  'expired',
  'binding-mismatch',
  'replay',
  'ip-not-allowed',
  'ip-mismatch',
  'ip-unverifiable',
  'store-unavailable',
] as const;

export type Reason = (typeof REASONS)[number];

const reasonSet: ReadonlySet<string> = new Set(REASONS);

export function isReason(value: unknown): value is Reason {
  return typeof value === 'string' && reasonSet.has(value);
}

/** Fixed, human-readable titles: never built from request data. */
export const REASON_TITLES: Readonly<Record<Reason, string>> = {
  missing: 'Client IP attestation required',
  malformed: 'Client IP attestation is malformed',
  'bad-header': 'Client IP attestation header is not acceptable',
  'bad-ticket': 'Client IP ticket is not acceptable',
  'unknown-key': 'Client IP attestation key is unknown',
  'bad-signature': 'Client IP attestation signature is invalid',
  'bad-claims': 'Client IP attestation claims are invalid',
  'not-yet-valid': 'Client IP attestation is not yet valid',
  expired: 'Client IP attestation has expired',
  'binding-mismatch': 'Client IP attestation does not match this request',
  replay: 'Client IP attestation was already used',
  'ip-not-allowed': 'Attested client IP is not allowed for this key',
  'ip-mismatch': 'Attested client IP disagrees with the network',
  'ip-unverifiable': 'Client IP cannot be verified against the network',
  'store-unavailable': 'Replay protection is unavailable',
};

/**
 * HTTP status by reason (PROTOCOL §5, §7): protocol data, beside the codes, so every verifier
 * (Node, the web, another language) answers a reason with the same status.
 */
export const REASON_STATUS: Readonly<Record<Reason, 401 | 403 | 503>> = {
  missing: 401,
  malformed: 401,
  'bad-header': 401,
  'bad-ticket': 401,
  'unknown-key': 401,
  'bad-signature': 401,
  'bad-claims': 401,
  'not-yet-valid': 401,
  expired: 401,
  'binding-mismatch': 401,
  replay: 401,
  'ip-not-allowed': 403,
  'ip-mismatch': 403,
  'ip-unverifiable': 403,
  'store-unavailable': 503,
};
