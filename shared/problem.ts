import { REASON_STATUS, REASON_TITLES, type Reason } from './reasons.js';
import { SERVICE_REASON_TITLES, type ServiceReason } from './service-reasons.js';

/**
 * The refusal bodies every adapter sends (PROTOCOL §5): RFC 9457 problem+json with fixed
 * strings only, never anything from the request. Framework-free, so the Fastify plugin, the
 * node:http/Express and Hono middleware and the web verifier answer byte for byte alike.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface IpStampProblem {
  type: `urn:ipstamp:${Reason}`;
  title: string;
  status: 401 | 403 | 503;
  reason: Reason;
}

export function problemOf(reason: Reason): IpStampProblem {
  return { type: `urn:ipstamp:${reason}`, title: REASON_TITLES[reason], status: REASON_STATUS[reason], reason };
}

/** HTTP status of the service refusals (service-reasons.ts): not protocol reasons, same body shape. */
export const SERVICE_REASON_STATUS: Readonly<Record<ServiceReason, 400 | 405 | 413 | 429 | 502 | 503 | 504 | 508>> = {
  'body-too-large': 413,
  'rate-limited': 429,
  'upstream-unavailable': 502,
  'upstream-timeout': 504,
  'upstream-loop': 508,
  'shutting-down': 503,
  'bad-request-target': 400,
  'method-not-allowed': 405,
};

export interface ServiceProblem {
  type: `urn:ipstamp:${ServiceReason}`;
  title: string;
  status: 400 | 405 | 413 | 429 | 502 | 503 | 504 | 508;
  reason: ServiceReason;
}

export function serviceProblemOf(reason: ServiceReason): ServiceProblem {
  return { type: `urn:ipstamp:${reason}`, title: SERVICE_REASON_TITLES[reason], status: SERVICE_REASON_STATUS[reason], reason };
}
