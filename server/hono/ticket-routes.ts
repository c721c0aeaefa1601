import type { Context } from 'hono';
import { checkIssuerRouteOptions, issuerBesideVerifier } from '../issuer/issuer-routes.js';
import { rateLimitKey } from '../verify/rate-limit-key.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import type { Verifier } from '../verify/verifier.js';
import type { ConnectionHints, VerifyInput } from '../verify/types.js';
import { problemResponse, serviceProblemResponse } from './problem.js';
import type { IssuerHonoOptions } from './options.js';

const WINDOW_MS = 60_000;
/** Addresses the limiter counts at once; beyond that, unknown newcomers are refused until a window ends. */
const MAX_TRACKED = 10_000;

/**
 * Requests per key per fixed one-minute window, bounded in memory: when MAX_TRACKED keys are
 * counted, expired ones are swept, and a newcomer that still finds no room is refused (a
 * limiter that forgot counts under a flood would let the flood farm tickets).
 */
export class TicketRateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  constructor(
    readonly max: number,
    readonly now: () => number = Date.now,
  ) {}

  allow(key: string): boolean {
    const now = this.now();
    let window = this.#windows.get(key);
    if (window !== undefined && now - window.start >= WINDOW_MS) window = undefined;
    if (window === undefined) {
      if (!this.#windows.has(key) && this.#windows.size >= MAX_TRACKED) {
        for (const [k, w] of this.#windows) if (now - w.start >= WINDOW_MS) this.#windows.delete(k);
        if (this.#windows.size >= MAX_TRACKED) return false;
      }
      window = { start: now, count: 0 };
      this.#windows.set(key, window);
    }
    window.count++;
    return window.count <= this.max;
  }
}

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
