import type { FastifyError, FastifyInstance } from 'fastify';
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
