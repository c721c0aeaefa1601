import type { FastifyReply } from 'fastify';
import { REASON_STATUS, type Reason } from '../../shared/reasons.js';
import type { ServiceReason } from '../../shared/service-reasons.js';
import { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf, type IpStampProblem, type ServiceProblem } from '../../shared/problem.js';

export { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf, SERVICE_REASON_STATUS, type IpStampProblem, type ServiceProblem } from '../../shared/problem.js';

/**
 * Sends the rejection. The body is serialized here, so no reply serializer or schema of the
 * app can reshape it, and sent as bytes, so Fastify keeps the media type exactly as
 * PROTOCOL.md names it (no `; charset` appended). `no-store`: it is about this one request.
 */
export function sendProblem(reply: FastifyReply, reason: Reason): FastifyReply {
  return sendProblemText(reply, REASON_STATUS[reason], problemText(reason));
}

// A refusal's body depends on its reason alone (fixed strings), so each is serialized once;
// test/plugin/callback-hooks.test.ts holds every cached text to JSON.stringify(problemOf(reason)).
const problemTexts = new Map<Reason, string>();

/** The body sendProblem sends for `reason`, as text. */
export function problemText(reason: Reason): string {
  let text = problemTexts.get(reason);
  if (text === undefined) {
    text = JSON.stringify(problemOf(reason));
    problemTexts.set(reason, text);
  }
  return text;
}

function sendProblemBody(reply: FastifyReply, problem: IpStampProblem | ServiceProblem): FastifyReply {
  return sendProblemText(reply, problem.status, JSON.stringify(problem));
}

function sendProblemText(reply: FastifyReply, status: number, text: string): FastifyReply {
  // a fresh Buffer each time: an onSend hook may hold on to (or write into) the payload it is given
  return reply.code(status).header('content-type', PROBLEM_CONTENT_TYPE).header('cache-control', 'no-store').send(Buffer.from(text));
}

/** Like sendProblem, for a refusal by the service around the verifier (body size, rate, upstream, shutdown). */
export function sendServiceProblem(reply: FastifyReply, reason: ServiceReason): FastifyReply {
  return sendProblemBody(reply, serviceProblemOf(reason));
}
