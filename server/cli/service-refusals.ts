import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceReason } from '../../shared/service-reasons.js';
import { sendServiceProblem } from '../fastify/problem.js';

const BY_STATUS: ReadonlyMap<number, ServiceReason> = new Map([
  [413, 'body-too-large'],
  [429, 'rate-limited'],
]);

/**
 * Errors Fastify and its plugins raise for the service, not the stamp — a body over the
 * limit (Fastify's own and the gateway's), the ticket route's rate limit — answered as
 * problem+json like every refusal, with a stable reason. Headers already set (Retry-After,
 * the rate-limit counters) stay. Anything else keeps Fastify's own answer. Set before the
 * plugin registers its routes: a route keeps the error handler it was declared under.
 */
export function answerServiceErrorsAsProblems(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const reason = error.statusCode === undefined ? undefined : BY_STATUS.get(error.statusCode);
    if (reason === undefined) throw error;
    return sendServiceProblem(reply, reason);
  });
}

/** What Fastify's router refuses before any route runs: a target it cannot decode, or whose parameter is too long. */
const UNROUTABLE_TARGET: ReadonlySet<string> = new Set(['FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH']);

/**
 * Fastify's `frameworkErrors`: a target the router cannot read (`GET /%zz`) is a problem+json
 * `400 bad-request-target` like every other refusal, not Fastify's JSON that quotes the path
 * back. Anything else keeps Fastify's own answer.
 */
export function frameworkErrorAsProblem(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (UNROUTABLE_TARGET.has(error.code)) void sendServiceProblem(reply, 'bad-request-target');
  else void reply.send(error);
}
