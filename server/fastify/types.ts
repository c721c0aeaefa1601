import type { IpStampCounters } from './metrics.js';
import type { Verifier } from '../verify/verifier.js';
import type { Verdict } from '../verify/types.js';
import type { Reason } from '../../shared/reasons.js';

/**
 * Per-route settings, in the route's `config.ipstamp`:
 * `false` skips verification on the route; `{ required: false }` makes the stamp optional
 * (absent → `request.ipStamp` stays null; present → verified all the same); `reportOnly`
 * overrides the plugin's (`true`: a refusal is let through with its reason in
 * `request.ipStampRefusal`; `false`: refusals are answered).
 */
export type IpStampRouteConfig = false | { required?: boolean; reportOnly?: boolean };

/** What the plugin decorates the Fastify instance with, as `fastify.ipstamp`. */
export interface IpStampDecoration {
  /** The verifier the plugin runs, for code that verifies outside a route (a WebSocket upgrade…). */
  readonly verifier: Verifier;
  /** The counters since registration (accepted by agreement, rejected by reason). */
  metrics(): IpStampCounters;
  /** The same counters in Prometheus text format. */
  prometheus(): string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The accepted verdict; null on routes that skip verification or when an optional stamp is absent. */
    ipStamp: Verdict | null;
    /**
     * Why the stamp was refused on a report-only route, where the request went on unstamped
     * (`ipStamp` null); null when nothing was refused.
     */
    ipStampRefusal: Reason | null;
  }
  interface FastifyContextConfig {
    ipstamp?: IpStampRouteConfig;
  }
  interface FastifyInstance {
    ipstamp: IpStampDecoration;
  }
}
