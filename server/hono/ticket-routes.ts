import type { Context } from 'hono';
import { checkIssuerRouteOptions, issuerBesideVerifier } from '../issuer/issuer-routes.js';
import { TicketRateLimiter } from '../issuer/ticket-rate-limit.js';
import { rateLimitKey } from '../verify/rate-limit-key.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import type { Verifier } from '../verify/verifier.js';
import type { ConnectionHints, VerifyInput } from '../verify/types.js';
import { problemResponse, serviceProblemResponse } from './problem.js';
import type { IssuerHonoOptions } from './options.js';

export interface TicketRoutes {
  jwks(c: Context): Response;
  issue(c: Context, connection: ConnectionHints, input: VerifyInput): Promise<Response>;
}

/**
 * The issuer's two routes, served by the middleware. The limit is keyed on the address the
 * issuer observes — the one it would sign — never on a header an untrusted peer wrote.
 */
export function createTicketRoutes(options: IssuerHonoOptions, verifierOptions: CreateVerifierOptions, verifier: Verifier): TicketRoutes {
  checkIssuerRouteOptions(options);
  const issuer = issuerBesideVerifier(options, verifierOptions, verifier);
  const limit = options.rateLimit ?? 30;
  const limiter = limit === false ? undefined : new TicketRateLimiter(limit);

  return {
    jwks: (c) => c.json(issuer.jwks, 200, { 'cache-control': 'public, max-age=300' }),
    async issue(c, connection, input) {
      if (limiter !== undefined) {
        const hints = verifier.hints({ headers: input.headers, hints: connection });
        // one budget per /64 (rateLimitKey): a host holds a whole prefix, not one address
        if (!limiter.allow(rateLimitKey(hints))) return serviceProblemResponse('rate-limited');
      }
      const result = await issuer.issue(input);
      if (!result.ok) return problemResponse(result.reason);
      return c.json({ ticket: result.ticket, ip: result.ip, exp: result.exp }, 200, { 'cache-control': 'no-store' });
    },
  };
}
