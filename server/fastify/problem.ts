import type { FastifyReply } from 'fastify';
import { REASON_STATUS, REASON_TITLES, type Reason } from '../../shared/reasons.js';
import { SERVICE_REASON_TITLES, type ServiceReason } from '../../shared/service-reasons.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The RFC 9457 body of PROTOCOL.md §5: fixed strings only, never anything from the request. */
export interface IpStampProblem {
  type: `urn:ipstamp:${Reason}`;
  title: string;
  status: 401 | 403 | 503;
  reason: Reason;
}

export function problemOf(reason: Reason): IpStampProblem {
  return { type: `urn:ipstamp:${reason}`, title: REASON_TITLES[reason], status: REASON_STATUS[reason], reason };
}

/**
 * Sends the rejection. The body is serialized here, so no reply serializer or schema of the
 * app can reshape it, and sent as bytes, so Fastify keeps the media type exactly as
 * PROTOCOL.md names it (no `; charset` appended). `no-store`: it is about this one request.
 */
export function sendProblem(reply: FastifyReply, reason: Reason): FastifyReply {
  return sendProblemBody(reply, problemOf(reason));
}

function sendProblemBody(reply: FastifyReply, problem: IpStampProblem | ServiceProblem): FastifyReply {
  return reply
    .code(problem.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send(Buffer.from(JSON.stringify(problem)));
}

/** HTTP status of the service refusals (shared/service-reasons.ts): not protocol reasons, same body shape. */
export const SERVICE_REASON_STATUS: Readonly<Record<ServiceReason, 413 | 429 | 502 | 503 | 504>> = {
  'body-too-large': 413,
  'rate-limited': 429,
  'upstream-unavailable': 502,
  'upstream-timeout': 504,
  'shutting-down': 503,
};

export interface ServiceProblem {
  type: `urn:ipstamp:${ServiceReason}`;
  title: string;
  status: 413 | 429 | 502 | 503 | 504;
  reason: ServiceReason;
}

export function serviceProblemOf(reason: ServiceReason): ServiceProblem {
  return { type: `urn:ipstamp:${reason}`, title: SERVICE_REASON_TITLES[reason], status: SERVICE_REASON_STATUS[reason], reason };
}

/** Like sendProblem, for a refusal by the service around the verifier (body size, rate, upstream, shutdown). */
export function sendServiceProblem(reply: FastifyReply, reason: ServiceReason): FastifyReply {
  return sendProblemBody(reply, serviceProblemOf(reason));
}
