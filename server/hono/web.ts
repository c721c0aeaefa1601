/**
 * `ipstamp/hono/web`: the Hono middleware on the web verifier (`ipstamp/web`: WebCrypto, a
 * pure-JS CIDR matcher) for Cloudflare Workers, Bun and Deno. The same glue, options, routes,
 * refusals and verdicts as `ipstamp/hono`, with no `node:` import in its module graph, so a
 * Worker bundle carries none. Two differences, both because there is no Node socket here:
 * `connection` is required (a runtime preset, or your own), and there is no ticket issuer.
 */
import type { MiddlewareHandler } from 'hono';
import { warnOfLoosenedPolicies } from '../runtime/loosened-warning.js';
import type { ConnectionHints, HeaderMap, VerifyInput } from '../verify/types.js';
import { echoAnswerAt } from '../verify/echo-answer.js';
import type { OptionNames } from '../../shared/options.js';
import { createWebVerifier, WEB_VERIFIER_OPTION_NAMES, type WebVerifier, type WebVerifierOptions } from '../web/web-verifier.js';
import { honoMiddlewareFamily, type IpStampVariables, type StampedHandler } from './glue.js';
import { splitHonoOptions, type ConnectionOf, type IpStampHonoOptions } from './options.js';

export { bunConnection, cloudflareConnection, denoConnection } from './runtime-connections.js';
export type { IpStampVariables, StampedHandler } from './glue.js';
export type { ConnectionOf } from './options.js';
export type { Reason } from '../../shared/reasons.js';

/** `ipstamp(options)` on the edge: the web verifier's options, plus the glue's. */
export interface IpStampHonoWebOptions extends Omit<WebVerifierOptions, 'bodyLimit'> {
  /** Refuse a request without a stamp. Default true; false leaves `c.get('ipStamp')` null for an unstamped request. */
  required?: boolean;
  /**
   * Report, do not refuse: a stamp the verifier refuses lets the request through as an unstamped
   * one (`c.get('ipStamp')` null), with the reason in `c.get('ipStampRefusal')`. Default false.
   * Emitted as a warning at creation.
   */
  reportOnly?: boolean;
  /** Answer `GET /.well-known/ipstamp` (PROTOCOL.md §6) with the address this verifier observes. Default true. */
  echo?: boolean;
  /** The most body bytes read for a `cdg` check. Default 1 MiB; a stamp with `cdg` on a larger body is refused. */
  bodyLimit?: number;
  /**
   * Where the peer address (l3) comes from — required: `cloudflareConnection`, `bunConnection`,
   * `denoConnection`, or your own `(c) => ({ l3 })` giving the TCP peer (or a header only your
   * platform can write). Never a header a client can send.
   */
  connection: ConnectionOf;
}

/** The middleware, with the web verifier it runs, its handler form and its optional twin (as in `ipstamp/hono`). */
export type IpStampWebMiddleware = MiddlewareHandler<{ Variables: IpStampVariables }> & {
  readonly verifier: WebVerifier;
  readonly handler: StampedHandler;
  /** The same middleware (same verifier, same replay store) where a stamp is optional, as `IpStampMiddleware['optional']`. */
  readonly optional: MiddlewareHandler<{ Variables: IpStampVariables }> & { readonly handler: StampedHandler };
};

/** Every key `ipstamp(options)` takes here: the glue's, and the web verifier's (passed on to it). */
const HONO_WEB_OPTION_NAMES: OptionNames<IpStampHonoWebOptions> = Object.freeze({
  ...WEB_VERIFIER_OPTION_NAMES,
  required: true,
  reportOnly: true,
  echo: true,
  bodyLimit: true,
  connection: true,
});

export function ipstamp(options: IpStampHonoWebOptions): IpStampWebMiddleware {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  if ((options as { issuer?: unknown }).issuer !== undefined) {
    throw new TypeError('issuer is not available in ipstamp/hono/web: the ticket issuer runs on Node (ipstamp/hono)');
  }
  if (options.connection === undefined) {
    throw new TypeError('connection must be a function (c) => ConnectionHints: cloudflareConnection, bunConnection, denoConnection or your own');
  }
  const { glue, verifier: verifierOptions } = splitHonoOptions(options as unknown as IpStampHonoOptions, HONO_WEB_OPTION_NAMES);
  const now = verifierOptions.now ?? Date.now;
  const verifier = createWebVerifier({ ...(verifierOptions as WebVerifierOptions), bodyLimit: glue.bodyLimit });
  // no logger here: said once as a warning, as the Fastify plugin logs it
  warnOfLoosenedPolicies({ ...verifier.settings, reportOnly: glue.reportOnly });
  const middleware = honoMiddlewareFamily(
    glue,
    {
      verify: (input: VerifyInput) => verifier.verifyInput(input),
      hints: (c, _headers: HeaderMap, connection: ConnectionHints) => verifier.hints(c.req.raw, connection),
      echo: (ip: string) => echoAnswerAt(ip, now()),
    },
    glue.connection!,
    undefined,
    // without a store of the app's, the verifier's own is private to this call: the verifier names it
    verifierOptions.replayStore ?? verifier,
  );
  return Object.assign(middleware, { verifier });
}

export default ipstamp;
