import type { IncomingMessage, ServerResponse } from 'node:http';
import { ECHO_PATH, ISSUER_JWKS_PATH, TICKET_PATH } from '../../shared/constants.js';
import { connectionHints } from '../verify/connection-hints.js';
import { headersOf } from '../verify/node-headers.js';
import { checkIssuerRouteOptions, issuerBesideVerifier, type IssuerRouteOptions } from '../issuer/issuer-routes.js';
import { isCorsPreflight } from '../verify/cors-preflight.js';
import { echoAnswer } from '../verify/echo-answer.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { CREATE_VERIFIER_OPTION_NAMES, createVerifier, type CreateVerifierOptions } from '../verify/create-verifier.js';
import { warnOfLoosenedPolicies } from '../runtime/loosened-warning.js';
import type { Verdict, VerifyInput, VerifyResult } from '../verify/types.js';
import { immediateVerifierOf, type Verifier } from '../verify/verifier.js';
import { rateLimitKey } from '../verify/rate-limit-key.js';
import { keepTickObjectShapes } from '../runtime/tick-shapes.js';
import { TicketRateLimiter } from '../issuer/ticket-rate-limit.js';
import { rawBodyOf, readBodyUpTo } from './raw-body.js';
import { sendJson, sendProblem, sendServiceProblem } from './respond.js';
import { upgradeVerifier, type VerifyUpgrade } from './upgrade.js';

/** The `issuer` option: serve tickets (PROTOCOL.md §7.1) from this middleware, the same for every adapter (server/issuer/issuer-routes.ts). */
export type IssuerMiddlewareOptions = IssuerRouteOptions;

/** `ipstamp(options)`: the verifier's options, plus what the middleware adds. */
export interface IpStampMiddlewareOptions extends CreateVerifierOptions {
  /** Refuse a request without a stamp. Default true; `middleware.optional` is the same middleware with false. */
  required?: boolean;
  /**
   * Report, do not refuse (`middleware`, `.optional` and `.upgrade` alike): a stamp the verifier
   * refuses lets the request through as an unstamped one (`req.ipStamp` null), with the reason
   * in `req.ipStampRefusal`. Default false. Emitted as a process warning at creation.
   */
  reportOnly?: boolean;
  /** Serve `GET /.well-known/ipstamp` (PROTOCOL.md §6). Default true. */
  echo?: boolean;
  /** Also be a ticket issuer (PROTOCOL.md §7): serve POST /.well-known/ipstamp/ticket and the issuer JWK Set. */
  issuer?: IssuerMiddlewareOptions;
  /** Largest ticket-request body the middleware reads itself, in bytes. Default 16384. */
  bodyLimit?: number;
}

/** A connect-style middleware: node:http, Express 4 and 5, and anything shaped `(req, res, next)`. */
export type IpStampMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** A middleware with its check for upgrade handshakes, which never reach a middleware. */
export interface IpStampUpgradingMiddleware extends IpStampMiddleware {
  /**
   * Verifies the handshake of node:http's `'upgrade'` event as this middleware verifies a
   * request: the verdict (null: no stamp, and none required, or refused in report-only) to go
   * on with; `undefined` when refused (the answer written, the socket closing) or the client is
   * gone.
   */
  readonly upgrade: VerifyUpgrade;
}

export interface IpStampNodeMiddleware extends IpStampUpgradingMiddleware {
  /** The same middleware (same verifier, same replay store) where a stamp is optional: unstamped → `req.ipStamp === null`. */
  readonly optional: IpStampUpgradingMiddleware;
  readonly verifier: Verifier;
}

const GLUE_OPTIONS = ['required', 'reportOnly', 'echo', 'issuer', 'bodyLimit'] as const;

/** Every key the middleware takes: its own, and the verifier's (passed on to it). */
const MIDDLEWARE_OPTION_NAMES: OptionNames<IpStampMiddlewareOptions> = Object.freeze({
  ...CREATE_VERIFIER_OPTION_NAMES,
  required: true,
  reportOnly: true,
  echo: true,
  issuer: true,
  bodyLimit: true,
});

function flag(options: IpStampMiddlewareOptions, name: 'required' | 'reportOnly' | 'echo', fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return value;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The request-target as received: Express rewrites `req.url` under a mount path, never `originalUrl`. */
function targetOf(req: IncomingMessage): string {
  return (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
}

function verifyInputOf(req: IncomingMessage, body: Uint8Array | undefined, required: boolean): VerifyInput {
  return { method: req.method ?? 'GET', url: targetOf(req), headers: headersOf(req), body, hints: connectionHints(req.socket), required };
}

/**
 * Verifies each request: accepted → `req.ipStamp` is the verdict and `next()` runs; refused →
 * problem+json, the response ended, `next` not called (with `reportOnly`: `next()` runs,
 * `req.ipStamp` null, the reason in `req.ipStampRefusal`). Put it after the body parsers whose
 * `verify` is `rawBodyVerify` when stamps sign bodies (`cdg`). The TCP peer is read at accept
 * only if the server was given to `trackPeerAddresses` (else a reset connection is refused).
 */
export function ipstamp(options: IpStampMiddlewareOptions): IpStampNodeMiddleware {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, MIDDLEWARE_OPTION_NAMES);
  const required = flag(options, 'required', true);
  const reportOnly = flag(options, 'reportOnly', false);
  const echo = flag(options, 'echo', true);
  const bodyLimit = options.bodyLimit ?? 16_384;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 0) throw new TypeError('bodyLimit must be a whole number of bytes');
  const verifierOptions = Object.fromEntries(
    Object.entries(options).filter(([name]) => !(GLUE_OPTIONS as readonly string[]).includes(name)),
  ) as CreateVerifierOptions;
  const verifier = createVerifier(verifierOptions);
  // no logger here: said once as a process warning, as the Fastify plugin logs it
  warnOfLoosenedPolicies({ ...verifier.settings, reportOnly });
  // keeps every later nextTick on V8's fast path (server/runtime/tick-shapes.ts)
  keepTickObjectShapes();
  const tickets = options.issuer === undefined ? undefined : ticketRoutes(options.issuer, verifierOptions, verifier, bodyLimit);

  const verifyNow = immediateVerifierOf(verifier);

  /**
   * The verdict (null: no stamp, allowed; or refused in report-only, the reason set on `req`),
   * or undefined once a refusal has been sent.
   */
  function conclude(req: IncomingMessage, res: ServerResponse, result: VerifyResult): Verdict | null | undefined {
    if (!result.ok) {
      if (reportOnly) {
        req.ipStampRefusal = result.reason;
        // decided: verified again on a route, the stamp would be reported a second time, as a replay
        decided.add(req);
        return null;
      }
      sendProblem(res, result.reason);
      return undefined;
    }
    return result.verdict;
  }

  // a request this verifier already accepted (app-wide and again on a route), or refused in
  // report-only, is not verified twice: that would be a replay
  const decided = new WeakSet<IncomingMessage>();

  function middlewareFor(requireStamp: boolean): IpStampUpgradingMiddleware {
    const middleware: IpStampMiddleware = (req, res, next) => {
      if (decided.has(req)) return next();
      (req as { ipStamp?: Verdict | null }).ipStamp = null;
      // what the handler reads is this check's outcome: another call's report-only refusal in
      // front, checked again here, is not left beside this one's verdict
      if (reportOnly || req.ipStampRefusal != null) req.ipStampRefusal = null;
      if (isCorsPreflight(req.method ?? '', req.headers)) return next();
      const path = pathOf(targetOf(req));
      if (echo && path === ECHO_PATH && req.method === 'GET') return answerEcho(req, res, verifier);
      // only the issuer's own requests: any other method on these paths is verified like any request
      if (tickets !== undefined && ((path === TICKET_PATH && req.method === 'POST') || (path === ISSUER_JWKS_PATH && req.method === 'GET'))) {
        return void tickets(req, res, path).catch((error: unknown) => next(error));
      }
      const body = rawBodyOf(req);
      const proceed = (result: VerifyResult): void => {
        const verdict = conclude(req, res, result);
        if (verdict === undefined) return;
        if (verdict !== null) decided.add(req);
        (req as { ipStamp?: Verdict | null }).ipStamp = verdict;
        next();
      };
      // keys in memory and a synchronous store answer now: next() runs in this call, no promise
      let outcome: VerifyResult | Promise<VerifyResult>;
      try {
        outcome = verifyNow(verifyInputOf(req, body, requireStamp));
      } catch (error) {
        return next(error);
      }
      if (outcome instanceof Promise) outcome.then(proceed, next);
      else proceed(outcome);
    };
    const upgrade = upgradeVerifier(verifyNow, (req) => verifyInputOf(req, rawBodyOf(req), requireStamp), decided, reportOnly);
    return Object.defineProperty(middleware, 'upgrade', { value: upgrade, enumerable: true }) as IpStampUpgradingMiddleware;
  }

  const middleware = middlewareFor(required);
  Object.defineProperty(middleware, 'optional', { value: required ? middlewareFor(false) : middleware, enumerable: true });
  Object.defineProperty(middleware, 'verifier', { value: verifier, enumerable: true });
  return middleware as IpStampNodeMiddleware;
}

/**
 * PROTOCOL.md §6: the address this verifier observes for the caller, from the verifier's own
 * walk, so the echo can never disagree with what step 12 compares against.
 */
function answerEcho(req: IncomingMessage, res: ServerResponse, verifier: Verifier): void {
  const hints = verifier.hints({ headers: req.headers, hints: connectionHints(req.socket) });
  // a peer unknown at accept (reset connection) has no address to echo: the refusal a stamp would get
  if (hints.l3 === undefined) return sendProblem(res, 'ip-unverifiable');
  sendJson(res, 200, echoAnswer(verifier, hints.observed ?? hints.l3), 'application/json; charset=utf-8', 'no-store');
}

/** Answers `POST` on the ticket path or `GET` on the issuer's JWK Set path (the only requests it is given). */
type TicketRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

/** The issuer's routes; the limit is keyed on the address the issuer observes (the one it would sign). */
function ticketRoutes(options: IssuerMiddlewareOptions, verifierOptions: CreateVerifierOptions, verifier: Verifier, bodyLimit: number): TicketRoutes {
  checkIssuerRouteOptions(options);
  const issuer = issuerBesideVerifier(options, verifierOptions, verifier);
  const limiter = options.rateLimit === false ? undefined : new TicketRateLimiter(options.rateLimit ?? 30);
  return async (req, res, path) => {
    if (path === ISSUER_JWKS_PATH) return sendJson(res, 200, issuer.jwks, 'application/json; charset=utf-8', 'public, max-age=300');
    if (limiter !== undefined) {
      const hints = verifier.hints({ headers: req.headers, hints: connectionHints(req.socket) });
      // one budget per /64 (rateLimitKey): a host holds a whole prefix, not one address
      if (!limiter.allow(rateLimitKey(hints))) return sendServiceProblem(res, 'rate-limited');
    }
    const body = rawBodyOf(req) ?? (await readBodyUpTo(req, bodyLimit));
    if (body === undefined) return sendServiceProblem(res, 'body-too-large');
    const result = await issuer.issue(verifyInputOf(req, body, true));
    if (!result.ok) sendProblem(res, result.reason);
    else sendJson(res, 200, { ticket: result.ticket, ip: result.ip, exp: result.exp }, 'application/json; charset=utf-8', 'no-store');
  };
}
