import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import type { CreateVerifierOptions } from '../verify/create-verifier.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { compiledOptionsOf, type Verifier } from '../verify/verifier.js';
import { createTicketIssuer, type TicketIssuer, type TicketIssuerOptions } from './issuer.js';

/** What every adapter's `issuer` option takes: the issuer's own settings and the route's rate limit. */
export interface IssuerRouteOptions extends Pick<TicketIssuerOptions, 'key' | 'origin' | 'lifetime'> {
  /** Ticket requests per observed address (IPv6: per /64) per minute. Default 30; `false` turns the limit off. */
  rateLimit?: number | false;
  /**
   * Where proof (thumbprint, jti) pairs are remembered. Default: the verifier's replay store.
   * A store of their own keeps a flood of proofs, which need no registered key, from filling the
   * store stamps are checked against (docs/tickets.md).
   */
  replayStore?: ReplayStore;
}

const ISSUER_ROUTE_OPTION_NAMES: OptionNames<IssuerRouteOptions> = Object.freeze({
  key: true,
  origin: true,
  lifetime: true,
  rateLimit: true,
  replayStore: true,
});

/** The `issuer` option of an adapter, checked at setup: a TypeError names `issuer.*` as the user wrote it. */
export function checkIssuerRouteOptions(options: unknown): asserts options is IssuerRouteOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('issuer must be an object with a private key');
  rejectUnknownOptions(options, ISSUER_ROUTE_OPTION_NAMES, 'issuer');
  const { rateLimit: limit } = options as IssuerRouteOptions;
  if (limit !== undefined && limit !== false && !(Number.isInteger(limit) && (limit as number) > 0)) {
    throw new TypeError('issuer.rateLimit must be a positive whole number of requests per minute, or false');
  }
  const { replayStore } = options as IssuerRouteOptions;
  if (replayStore !== undefined && typeof (replayStore as Partial<ReplayStore> | null)?.insertIfAbsent !== 'function') {
    throw new TypeError('issuer.replayStore must be a replay store (an object with insertIfAbsent)');
  }
}

/**
 * The ticket issuer an adapter serves beside its verifier: the same trust, forwarding and
 * protocol headers, origins, clock and time rules, and, unless `replayStore` names its own, the
 * verifier's replay store for proofs (one memory for stamps and proofs). The issuer's TypeError names the option the user wrote:
 * `issuer.lifetime`, not `lifetime`.
 */
export function issuerBesideVerifier(options: IssuerRouteOptions, verifierOptions: CreateVerifierOptions, verifier: Verifier): TicketIssuer {
  try {
    return createTicketIssuer({
      key: options.key,
      origin: options.origin,
      lifetime: options.lifetime,
      replayStore: options.replayStore ?? compiledOptionsOf(verifier).replayStore,
      trustedProxies: verifierOptions.trustedProxies,
      forwardedHeader: verifierOptions.forwardedHeader,
      protoHeader: verifierOptions.protoHeader,
      origins: verifierOptions.origins,
      maxAge: verifierOptions.maxAge,
      skew: verifierOptions.skew,
      now: verifierOptions.now,
    });
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`issuer.${error.message}`);
    throw error;
  }
}
