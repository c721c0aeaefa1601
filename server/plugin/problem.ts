import type { FastifyReply } from 'fastify';
import { REASON_TITLES, type Reason } from '../../shared/reasons.js';
import { REASON_STATUS } from '../verify/status.js';

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
  const problem = problemOf(reason);
  return reply
    .code(problem.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send(Buffer.from(JSON.stringify(problem)));
}
