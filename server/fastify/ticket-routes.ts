import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ISSUER_JWKS_PATH, TICKET_PATH } from '../../shared/constants.js';
import type { TicketIssuer } from '../issuer/issuer.js';
import { checkIssuerRouteOptions, issuerBesideVerifier, type IssuerRouteOptions } from '../issuer/issuer-routes.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import { rateLimitKey } from '../verify/rate-limit-key.js';
import type { Verifier } from '../verify/verifier.js';
import { connectionHints } from '../verify/connection-hints.js';
import type { IpStampMetrics } from './metrics.js';
import { sendProblem } from './problem.js';
import { verifyInputOf } from './verify-hook.js';

/** The `issuer` plugin option: serve tickets (PROTOCOL.md §7.1) from this verifier. */
/** The `issuer` option: the same for every adapter (server/issuer/issuer-routes.ts). */
export type IssuerPluginOptions = IssuerRouteOptions;

/**
 * The issuer's routes, in their own encapsulated context so the rate limiter applies to
 * them alone and never collides with an app's own @fastify/rate-limit. The limit is keyed on
 * the address the issuer observes — the one it would sign — not on a forgeable header.
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

  void fastify.register(async (scope) => {
    if (limit !== false) await scope.register(rateLimit, { global: false });
    scope.get(ISSUER_JWKS_PATH, { config: { ipstamp: false } }, async (_request, reply) => {
      void reply.header('cache-control', 'public, max-age=300');
      return issuer.jwks;
    });
    scope.post(
      TICKET_PATH,
      { config: { ipstamp: false, ...(limit === false ? {} : { rateLimit: { max: limit, timeWindow: 60_000, keyGenerator: observedKey } }) } },
      async (request, reply) => {
        const result = await issuer.issue(verifyInputOf(request, true));
        if (!result.ok) {
          metrics.countRejected(result.reason);
          request.log.info({ ipstamp: { ticket: 'refused', reason: result.reason, hints: result.hints } }, 'ipstamp: ticket refused');
          return sendProblem(reply, result.reason);
        }
        request.log.info({ ipstamp: { ticket: 'issued', ip: result.ip, exp: result.exp } }, 'ipstamp: ticket issued');
        void reply.header('cache-control', 'no-store');
        return { ticket: result.ticket, ip: result.ip, exp: result.exp };
      },
    );
  });
  return issuer;
}
