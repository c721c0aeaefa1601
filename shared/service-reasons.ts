/**
 * Refusals by the HTTP service around a verifier (the CLI's `serve` and `gateway`), not by
 * the verifier: the stamp may be fine, the request still cannot be served. They travel in the
 * same problem+json shape as the wire reasons of PROTOCOL.md §5 (`reasons.ts`), but they are
 * not part of the protocol and never come out of verification. Stable: clients key on them.
 */
export const SERVICE_REASONS = [
  'body-too-large',
  'rate-limited',
  'upstream-unavailable',
  'upstream-timeout',
  'upstream-loop',
  'shutting-down',
  'bad-request-target',
  'method-not-allowed',
] as const;

export type ServiceReason = (typeof SERVICE_REASONS)[number];

const serviceReasonSet: ReadonlySet<string> = new Set(SERVICE_REASONS);

export function isServiceReason(value: unknown): value is ServiceReason {
  return typeof value === 'string' && serviceReasonSet.has(value);
}

/** Fixed titles: never built from request data, and never naming the upstream. */
export const SERVICE_REASON_TITLES: Readonly<Record<ServiceReason, string>> = {
  'body-too-large': 'Request body is too large',
  'rate-limited': 'Too many requests',
  'upstream-unavailable': 'The upstream could not be reached',
  'upstream-timeout': 'The upstream did not answer in time',
  'upstream-loop': 'The request came back to the gateway that forwarded it',
  'shutting-down': 'This instance is shutting down',
  'bad-request-target': 'The request cannot be forwarded as sent',
  'method-not-allowed': 'The method is not allowed here',
};
