import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ISSUER_JWKS_PATH, TICKET_PATH } from '../../shared/ticket-schema.js';
import { createTicketIssuer, type TicketIssuer, type TicketIssuerOptions } from '../issuer/issuer.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import { rateLimitKey } from '../verify/rate-limit-key.js';
import { compiledOptionsOf, type Verifier } from '../verify/verifier.js';
import { connectionHints } from './connection-hints.js';
import type { IpStampMetrics } from './metrics.js';
import { sendProblem } from './problem.js';
import { verifyInputOf } from './verify-hook.js';

/** The `issuer` plugin option: serve tickets (PROTOCOL.md §7.1) from this verifier. */
export interface IssuerPluginOptions extends Pick<TicketIssuerOptions, 'key' | 'origin' | 'lifetime'> {
  /** Ticket requests per observed address (IPv6: per /64) per minute. Default 30; `false` turns the limit off. */
  rateLimit?: number | false;
}

function checkIssuerOptions(options: unknown): asserts options is IssuerPluginOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('issuer must be an object with a private key');
  const { rateLimit: limit } = options as IssuerPluginOptions;
  if (limit !== undefined && limit !== false && !(Number.isInteger(limit) && (limit as number) > 0)) {
    throw new TypeError('issuer.rateLimit must be a positive whole number of requests per minute, or false');
  }
}

/** The issuer's TypeError names the plugin option the user wrote: `issuer.lifetime`, not `lifetime`. */
function issuerNamedInErrors(create: () => TicketIssuer): TicketIssuer {
  try {
    return create();
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`issuer.${error.message}`);
    throw error;
  }
}

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
  checkIssuerOptions(options);
  const issuer = issuerNamedInErrors(() =>
    createTicketIssuer({
      key: options.key,
      origin: options.origin,
      lifetime: options.lifetime,
      replayStore: compiledOptionsOf(verifier).replayStore,
      trustedProxies: verifierOptions.trustedProxies,
      forwardedHeader: verifierOptions.forwardedHeader,
      protoHeader: verifierOptions.protoHeader,
      origins: verifierOptions.origins,
      maxAge: verifierOptions.maxAge,
      skew: verifierOptions.skew,
      now: verifierOptions.now,
    }),
  );
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
