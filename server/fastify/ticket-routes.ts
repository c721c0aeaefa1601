import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ISSUER_JWKS_PATH, TICKET_PATH } from '../../shared/constants.js';
import type { TicketIssuer } from '../issuer/issuer.js';
import { checkIssuerRouteOptions, issuerBesideVerifier, type IssuerRouteOptions } from '../issuer/issuer-routes.js';
import { TicketRateLimiter } from '../issuer/ticket-rate-limit.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import { rateLimitKey } from '../verify/rate-limit-key.js';
import type { Verifier } from '../verify/verifier.js';
import { connectionHints } from '../verify/connection-hints.js';
import type { IpStampMetrics } from './metrics.js';
import { sendProblem, sendServiceProblem } from './problem.js';
import { verifyInputOf } from './verify-hook.js';

/** The `issuer` plugin option: serve tickets (PROTOCOL.md §7.1) from this verifier. */
/** The `issuer` option: the same for every adapter (server/issuer/issuer-routes.ts). */
export type IssuerPluginOptions = IssuerRouteOptions;

/**
 * The issuer's routes. The limit (TicketRateLimiter, as the node:http and Hono adapters use) is
 * keyed on the address the issuer observes — the one it would sign — not on a forgeable header,
 * and counted in the route's onRequest hook, before the body is read or the proof checked.
 * Every answer of the ticket route states the limit (`x-ratelimit-limit`, `-remaining`,
 * `-reset` in seconds; `retry-after` on a 429), which the attack harness budgets by.
 */
export function registerTicketRoutes(
  fastify: FastifyInstance,
  options: IssuerPluginOptions,
  verifierOptions: CreateVerifierOptions,
  verifier: Verifier,
  metrics: IpStampMetrics,
): TicketIssuer {
  checkIssuerRouteOptions(options);
  const issuer = issuerBesideVerifier(options, verifierOptions, verifier);
  const limit = options.rateLimit ?? 30;
  // grouped as every limiter keyed by rateLimitKey is: one IPv6 /64 is one budget, not 2⁶⁴
  const observedKey = (request: FastifyRequest): string => rateLimitKey(verifier.hints({ headers: request.headers, hints: connectionHints(request.socket) }));

  const onRequest = limit === false ? undefined : limitedBy(new TicketRateLimiter(limit), limit, observedKey);

  fastify.get(ISSUER_JWKS_PATH, { config: { ipstamp: false } }, async (_request, reply) => {
    void reply.header('cache-control', 'public, max-age=300');
    return issuer.jwks;
  });
  fastify.post(TICKET_PATH, { config: { ipstamp: false }, ...(onRequest ? { onRequest } : {}) }, async (request, reply) => {
    const result = await issuer.issue(verifyInputOf(request, true));
    if (!result.ok) {
      metrics.countRejected(result.reason);
      if (result.store === 'full') {
        // as the verify hook reports a stamp it refused for a full store (verify-hook.ts)
        metrics.countStoreFull();
        request.log.warn(
          { ipstamp: { ticket: 'refused', reason: result.reason, store: 'full' } },
          'ipstamp: replay store FULL: ticket proof refused (store-unavailable)',
        );
      } else {
        request.log.info({ ipstamp: { ticket: 'refused', reason: result.reason, hints: result.hints } }, 'ipstamp: ticket refused');
      }
      return sendProblem(reply, result.reason);
    }
    request.log.info({ ipstamp: { ticket: 'issued', ip: result.ip, exp: result.exp } }, 'ipstamp: ticket issued');
    void reply.header('cache-control', 'no-store');
    return { ticket: result.ticket, ip: result.ip, exp: result.exp };
  });
  return issuer;
}

/** The route's onRequest hook: counts the request, states the limit, answers 429 rate-limited past it. */
function limitedBy(limiter: TicketRateLimiter, limit: number, keyOf: (request: FastifyRequest) => string): onRequestHookHandler {
  return (request, reply, done) => {
    const left = limiter.take(keyOf(request));
    const reset = Math.ceil(limiter.msUntilReset() / 1000);
    void reply.header('x-ratelimit-limit', limit).header('x-ratelimit-remaining', Math.max(left, 0)).header('x-ratelimit-reset', reset);
    if (left >= 0) return done();
    // a callback hook that sends and never calls done: the body is not read, the handler skipped
    void reply.header('retry-after', reset);
    sendServiceProblem(reply, 'rate-limited');
  };
}
