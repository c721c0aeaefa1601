import type { FastifyReply } from 'fastify';
import type { Reason } from '../../shared/reasons.js';
import type { ServiceReason } from '../../shared/service-reasons.js';
import { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf, type IpStampProblem, type ServiceProblem } from '../../shared/problem.js';

export { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf, SERVICE_REASON_STATUS, type IpStampProblem, type ServiceProblem } from '../../shared/problem.js';

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

/** Like sendProblem, for a refusal by the service around the verifier (body size, rate, upstream, shutdown). */
export function sendServiceProblem(reply: FastifyReply, reason: ServiceReason): FastifyReply {
  return sendProblemBody(reply, serviceProblemOf(reason));
}
