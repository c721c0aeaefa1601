import type { MiddlewareHandler } from 'hono';
import { connectionHints } from '../verify/connection-hints.js';
import type { OptionNames } from '../../shared/options.js';
import { CREATE_VERIFIER_OPTION_NAMES, createVerifier } from '../verify/create-verifier.js';
import { warnOfLoosenedPolicies } from '../runtime/loosened-warning.js';
import { keepTickObjectShapes } from '../runtime/tick-shapes.js';
import { echoAnswer } from '../verify/echo-answer.js';
import { immediateVerifierOf, type Verifier } from '../verify/verifier.js';
import type { ConnectionHints, HeaderMap } from '../verify/types.js';
import { honoMiddlewareFamily, type IpStampVariables, type StampedHandler } from './glue.js';
import { splitHonoOptions, type ConnectionOf, type IpStampHonoOptions } from './options.js';
import { createTicketRoutes } from './ticket-routes.js';

export type { IpStampVariables, StampedHandler } from './glue.js';

/**
 * The middleware, with the verifier it runs (for code that verifies outside a route: a
 * WebSocket upgrade…), its handler form (`app.get('/orders', stamp.handler((c) => …))`) and its
 * optional twin (`app.use(stamp.optional)` app-wide, `stamp` on the routes that require one).
 */
export type IpStampMiddleware = MiddlewareHandler<{ Variables: IpStampVariables }> & {
  readonly verifier: Verifier;
  readonly handler: StampedHandler;
  /**
   * The same middleware (same verifier, same replay store) where a stamp is optional: unstamped →
   * `c.get('ipStamp') === null`. A request one of the two accepted goes through the other as
   * accepted, not checked again. The middleware itself when created with `required: false`.
   */
  readonly optional: MiddlewareHandler<{ Variables: IpStampVariables }> & { readonly handler: StampedHandler };
};

/**
 * `@hono/node-server` hands the Node request as `c.env.incoming`: its socket's peer was
 * recorded at accept when the server is tracked (`trackPeerAddresses(server)`), else it is
 * read now — and a reset connection then reads nothing, which the verifier refuses.
 */
export const nodeConnection: ConnectionOf = (c) => {
  const incoming = (c.env as { incoming?: { socket?: unknown } } | undefined)?.incoming;
  return connectionHints(incoming?.socket as Parameters<typeof connectionHints>[0]);
};

/** Every key `ipstamp(options)` takes: the glue's, and the verifier's (passed on to it). */
const HONO_OPTION_NAMES: OptionNames<IpStampHonoOptions> = Object.freeze({
  ...CREATE_VERIFIER_OPTION_NAMES,
  required: true,
  reportOnly: true,
  echo: true,
  issuer: true,
  bodyLimit: true,
  connection: true,
});

/**
 * `ipstamp(options)`: a Hono middleware over the Node verifier (`node:crypto`, the fast path).
 * Accepted → `c.get('ipStamp')` is the verdict; refused → problem+json and the handler never
 * runs; no stamp on an optional route → null. It answers the echo route and, with `issuer`,
 * the ticket routes itself; CORS preflights pass through unverified. On Workers, Bun or Deno
 * use `ipstamp/hono/web`.
 */
export function ipstamp(options: IpStampHonoOptions): IpStampMiddleware {
  const { glue, verifier: verifierOptions } = splitHonoOptions(options, HONO_OPTION_NAMES);
  const verifier = createVerifier(verifierOptions);
  // no logger here: said once as a process warning, as the Fastify plugin logs it
  warnOfLoosenedPolicies({ ...verifier.settings, reportOnly: glue.reportOnly });
  // keeps every later nextTick on V8's fast path (server/runtime/tick-shapes.ts); this entry is
  // Node's, and ipstamp/hono/web never loads it
  keepTickObjectShapes();
  const tickets = glue.issuer === undefined ? undefined : createTicketRoutes(glue.issuer, verifierOptions, verifier);
  const glueVerifier = {
    verify: immediateVerifierOf(verifier),
    hints: (_c: unknown, headers: HeaderMap, hints: ConnectionHints) => verifier.hints({ headers, hints }),
    echo: (ip: string) => echoAnswer(verifier, ip),
  };
  // without a store of the app's, the verifier's own is private to this call: the verifier names it
  const middleware = honoMiddlewareFamily(glue, glueVerifier, glue.connection ?? nodeConnection, tickets, verifierOptions.replayStore ?? verifier);
  return Object.assign(middleware, { verifier });
}
