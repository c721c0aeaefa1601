import type { Context, Env, Input, MiddlewareHandler, Next } from 'hono';
import { ECHO_PATH, ISSUER_JWKS_PATH, STAMP_HEADER, TICKET_PATH } from '../../shared/constants.js';
import { webCompactCodec } from '../jws/web-bytes.js';
import { isCorsPreflight } from '../verify/cors-preflight.js';
import { EMPTY_BODY, headersAnnounceBody, requestHasBody, type BodyFraming } from '../verify/request-body.js';
import { headersOf } from '../verify/node-headers.js';
import type { EchoAnswer } from '../verify/echo-answer.js';
import type { ConnectionHints, HeaderMap, NetworkHints, Verdict, VerifyInput, VerifyResult } from '../verify/types.js';
import type { Reason } from '../../shared/reasons.js';
import type { ConnectionOf, HonoGlueSettings } from './options.js';
import { problemResponse } from './problem.js';
import type { TicketRoutes } from './ticket-routes.js';

/**
 * The Hono glue both entries share — `ipstamp/hono` (Node verifier) and `ipstamp/hono/web`
 * (WebCrypto verifier): gather the request once, ask the verifier, act on the verdict. No
 * `node:` import here or below, so a Worker bundle of `ipstamp/hono/web` carries none.
 */

/**
 * The variables the middleware sets: `c.get('ipStamp')` is the accepted verdict, or null
 * when an optional stamp was absent (and on a CORS preflight). Give them to your app as
 * `new Hono<{ Variables: IpStampVariables }>()`; no global `ContextVariableMap` augmentation,
 * so apps in the same program that do not use ipstamp are not told they have it.
 */
export interface IpStampVariables {
  ipStamp: Verdict | null;
  /**
   * Set by a `reportOnly` middleware: why the stamp was refused, the request let through
   * unstamped (`ipStamp` null); null when nothing was refused. Never set without `reportOnly`.
   */
  ipStampRefusal?: Reason | null;
}

/** What the glue asks of a verifier: the Node core and the web verifier both answer it. */
export interface GlueVerifier {
  /** PROTOCOL.md §5 over the request as plain data: the result now when no step had to wait. */
  verify(input: VerifyInput): VerifyResult | Promise<VerifyResult>;
  /** The network's view of this request (the echo route's answer). */
  hints(c: Context, headers: HeaderMap, connection: ConnectionHints): NetworkHints;
  /** The echo route's body for this address (PROTOCOL.md §6: the address and the verifier's clock). */
  echo(ip: string): EchoAnswer;
}

/**
 * `middleware.handler(fn)`: one route's handler behind the middleware's own checks, as that
 * route's only handler. Same verdict in `c.get('ipStamp')`, same refusals, same echo route.
 *
 * It answers what `fn` answers, or a refusal: a `Response` now or later. The plain `Response`
 * in that type is not redundant: Hono infers its route's response type from both of its handler
 * shapes (`Handler`, answering `R`, and `MiddlewareHandler`, answering `Promise<R | void>`), and
 * which candidate wins depends on the compiler's type order — TypeScript 7 picked `Response`
 * from the promise and refused `(c) => c.json(…)`. With `Response` in the union, the whole
 * answer is a supertype of every candidate, so both compilers pick it.
 */
export type StampedHandler = <E extends Env = Env, P extends string = string, I extends Input = Input, R = Response | Promise<Response>>(
  // the handler sees `ipStamp` whatever the app declares (an app's own Env is kept beside it)
  handler: (c: Context<E & { Variables: IpStampVariables }, P, I>, next: Next) => R,
) => (c: Context<E, P, I>, next: Next) => R | Response | Promise<Response>;

const DOUBLE_CHECK =
  'ipstamp: stamp.handler(fn) on a route an ipstamp middleware already covers: use one or the other (the stamp would be checked twice, the second time as a replay)';

/**
 * Why a handler form at all: Hono runs a route whose only handler is this one on its fast path,
 * with no middleware dispatch (compose's async steps, an awaited response), and a verdict and
 * handler that need no wait give back the Response itself. Any middleware gives that up: it
 * cost 2–3 µs a request on @hono/node-server (bench/README.md, "HTTP cost"). The middleware
 * runs unchanged, with the route's handler as its `next`.
 */
function stampedHandler(middleware: MiddlewareHandler<{ Variables: IpStampVariables }>, family: StampFamily): StampedHandler {
  return (handler) => (c, next) => {
    const stamped = c as unknown as Context<{ Variables: IpStampVariables }, string>;
    // behind another ipstamp() call's middleware, the stamp would be checked twice, and the second
    // check would refuse every stamp as a replay of the first: say so instead (app.onError).
    // Behind its own family (`stamp.optional` app-wide) the middleware lets what it accepted through.
    if (stamped.get('ipStamp') !== undefined && markOf.get(c)?.family !== family) throw new TypeError(DOUBLE_CHECK);
    // the handler runs as the middleware's next, once `ipStamp` is set; its own answer passes
    // straight through, neither awaited nor wrapped
    const proceed = () => handler(stamped as never, next);
    return middleware(stamped, proceed as unknown as Next) as ReturnType<typeof proceed> | Response | Promise<Response>;
  };
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

const LAYERED =
  'ipstamp: a second ipstamp middleware on a request whose stamp the first accepted: put one on each request (the stamp would be checked twice, the second time as a replay)';

/**
 * One `ipstamp()` call's middlewares — the middleware and its `.optional` twin, and their
 * handler forms: one verifier, one replay store. What one of them accepted, the others let
 * through as accepted (`ipStamp` kept), as ipstamp/node's twins do.
 */
interface StampFamily {
  readonly replayStore: object;
}

/**
 * What a family's middleware did with a request: took it (checked it, let it through), accepted
 * its stamp, or refused the stamp and let the request through (`reportOnly`).
 */
interface FamilyMark {
  readonly family: StampFamily;
  readonly outcome: 'took' | 'accepted' | 'refused';
}

/**
 * The mark of the family whose middleware took each request last. Only a stamp it decided —
 * accepted, or refused in report-only, its jti consumed in its replay store — goes through its
 * family again, not a verdict something else put in `ipStamp` after it let a stampless request
 * through. Another family's middleware behind it with the same store would find that stamp a
 * replay: it says so for an accepted one (a `TypeError`), and acts on the refusal of a refused
 * one. One with a store of its own checks it again as it always did.
 */
const markOf = new WeakMap<Context, FamilyMark>();

/** The refusals of protocol §5 steps 10–12: decided once the stamp's jti is in the replay store. */
const SPENT_BY_REFUSAL: ReadonlySet<Reason> = new Set<Reason>(['replay', 'ip-not-allowed', 'ip-mismatch', 'ip-unverifiable']);

/** `@hono/node-server`'s Node request, when the app runs there. */
type NodeRequest = BodyFraming & { readonly url?: string; readonly rawHeaders?: readonly string[] };
function nodeRequestOf(c: Context): NodeRequest | undefined {
  const incoming = (c.env as { incoming?: Partial<NodeRequest> } | undefined)?.incoming;
  return incoming?.headers === undefined ? undefined : (incoming as NodeRequest);
}

function headerMapOf(c: Context): HeaderMap {
  // On Node, the headers as Node parsed them (what the Fastify glue sees too), without making
  // @hono/node-server build a whole web Request
  const node = nodeRequestOf(c);
  if (node !== undefined) return headersOf(node);
  // Headers lower-cases names and joins repeats with ", "
  const headers = c.req.header();
  // a Request built in code (app.request, some runtimes) may carry no Host: the URL names it
  if (headers.host === undefined) headers.host = new URL(c.req.url).host;
  return headers;
}

/**
 * The exact body bytes for `cdg`, read once through `c.req.arrayBuffer()` (Hono keeps them, so
 * the handler's `c.req.json()` still works): empty for a request without a body, read only
 * when the stamp asks and the body's `Content-Length` is within the limit. A chunked or larger
 * body stays unknown (`undefined`) and its `cdg` fails closed, so no unbounded read happens
 * before verification. Not a promise when there is nothing to read (a GET): the request's
 * framing is checked before the stamp is decoded.
 */
function bodyForDigest(c: Context, headers: HeaderMap, limit: number): Uint8Array | Promise<Uint8Array> | undefined {
  // on Node, without making @hono/node-server build a web Request to ask
  const node = nodeRequestOf(c);
  if (node !== undefined ? !requestHasBody(node) : c.req.raw.body === null && !headersAnnounceBody(headers)) return EMPTY_BODY;
  // a GET's or HEAD's body never reaches the web Request (@hono/node-server and runtimes drop it)
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
  const length = headers['content-length'];
  if (typeof length !== 'string' || !/^\d{1,15}$/.test(length) || Number(length) > limit) return undefined;
  if (!webCompactCodec.payloadDeclares(headers[STAMP_HEADER], 'cdg')) return undefined;
  return c.req.arrayBuffer().then((bytes) => new Uint8Array(bytes));
}

/**
 * The request-target as received, byte for byte (§5 step 9), as the Fastify and node glue pass
 * it: on Node the raw target, an absolute-form or `*` one included, which then matches no `htu`
 * path (binding-mismatch) rather than being parsed into one with its dot segments removed.
 * Elsewhere the runtime hands over only a parsed URL, so its path is what is left.
 */
function requestTarget(c: Context): string {
  const url = nodeRequestOf(c)?.url;
  if (url !== undefined) return url;
  const parsed = new URL(c.req.url);
  return `${parsed.pathname}${parsed.search}`;
}

/**
 * The middleware over `verifier`. Accepted → `c.get('ipStamp')` is the verdict; refused →
 * problem+json and the handler never runs; no stamp on an optional route → null. It answers
 * the echo route and, with `tickets`, the ticket routes itself; CORS preflights pass through.
 */
function honoMiddleware(
  glue: HonoGlueSettings,
  verifier: GlueVerifier,
  connectionOf: ConnectionOf,
  tickets: TicketRoutes | undefined,
  family: StampFamily,
): MiddlewareHandler<{ Variables: IpStampVariables }> {
  const took: FamilyMark = { family, outcome: 'took' };
  const accepted: FamilyMark = { family, outcome: 'accepted' };
  const refused: FamilyMark = { family, outcome: 'refused' };

  // synchronous unless a body has to be read first: an await per request costs a microtask turn
  function inputOf(c: Context, connection: ConnectionHints, required: boolean, headers: HeaderMap): VerifyInput | Promise<VerifyInput> {
    const body = bodyForDigest(c, headers, glue.bodyLimit);
    const input: VerifyInput = {
      method: c.req.method,
      url: requestTarget(c),
      headers,
      body: body instanceof Promise ? undefined : body,
      protocol: c.req.url.startsWith('https:') ? 'https' : 'http',
      hints: connection,
      required,
    };
    return body instanceof Promise ? body.then((bytes) => ({ ...input, body: bytes })) : input;
  }

  /** A refusal answered, or with `reportOnly` let through as an unstamped request, its reason kept. */
  function refuse(c: Context, next: Next, reason: Reason): Promise<Response | void> {
    if (!glue.reportOnly) return Promise.resolve(problemResponse(reason));
    c.set('ipStampRefusal', reason);
    markOf.set(c, refused);
    return next();
  }

  /** The verdict acted on: the handler runs (`next()`) or the refusal is the answer. */
  function settle(c: Context, next: Next, result: VerifyResult): Promise<Response | void> {
    if (!result.ok) return refuse(c, next, result.reason);
    c.set('ipStamp', result.verdict);
    if (result.verdict !== null) markOf.set(c, accepted);
    return next();
  }

  /** A result that is already here is acted on now: no trip through the microtask queue. */
  function settleOutcome(c: Context, next: Next, outcome: VerifyResult | Promise<VerifyResult>): Promise<Response | void> {
    return outcome instanceof Promise ? outcome.then((result) => settle(c, next, result)) : settle(c, next, outcome);
  }

  async function issueTicket(routes: TicketRoutes, c: Context, connection: ConnectionHints, headers: HeaderMap): Promise<Response> {
    return routes.issue(c, connection, await inputOf(c, connection, true, headers));
  }

  // Not an async function: the accepted path hands back next()'s own promise, which Hono's
  // compose awaits directly. An async wrapper would add a promise of its own, resolved with
  // that one — two more trips through the microtask queue on every request (bench/README.md,
  // "HTTP cost"). A throw still reaches Hono's onError: compose calls this inside its try.
  return (c, next) => {
    // a stamp this family already accepted (`stamp.optional` app-wide, `stamp` on the route) is
    // not checked again: that check would refuse it as a replay of the first. Behind another
    // ipstamp() call's middleware that consumed it in the same replay store, the same replay:
    // say so instead (app.onError), as stamp.handler(fn) does. A stampless request (null), or a
    // stamp consumed in another store, goes on to be checked here.
    const earlier = c.get('ipStamp');
    const mark = earlier === undefined ? undefined : markOf.get(c);
    // an accepted stamp is its verdict in ipStamp; a refused one (report-only) left ipStamp null
    if (mark !== undefined && mark.outcome !== 'took' && (mark.outcome === 'accepted') === (earlier !== null)) {
      if (mark.family === family) return next();
      if (mark.family.replayStore === family.replayStore) {
        if (mark.outcome === 'accepted') throw new TypeError(LAYERED);
        // a report-only middleware in front refused this stamp in the same store after its jti
        // went in (steps 10–12), where a second check would find it a replay: that refusal is the
        // outcome here too. A stamp refused before step 10 consumed nothing (a missing one, a key
        // only this middleware knows…), and is checked here as this middleware checks any.
        const refusal = c.get('ipStampRefusal');
        if (refusal !== undefined && refusal !== null && SPENT_BY_REFUSAL.has(refusal)) return refuse(c, next, refusal);
      }
    }
    c.set('ipStamp', null);
    // what the handler reads is this check's outcome: another call's report-only refusal in
    // front, checked again here, is not left beside this one's verdict
    if (glue.reportOnly || mark?.outcome === 'refused') c.set('ipStampRefusal', null);
    // before any answer: stamp.handler(fn) behind this middleware knows its family by it, a preflight's too
    markOf.set(c, took);
    const headers = headerMapOf(c);
    if (isCorsPreflight(c.req.method, headers)) return next();
    const connection = connectionOf(c);
    const path = c.req.path;
    if (glue.echo && path === ECHO_PATH && c.req.method === 'GET') {
      const hints = verifier.hints(c, headers, connection);
      // a peer unknown at accept (reset connection) has no address to echo: the refusal a stamp would get
      if (hints.l3 === undefined) return Promise.resolve(problemResponse('ip-unverifiable'));
      return Promise.resolve(c.json(verifier.echo(hints.observed ?? hints.l3), 200, NO_STORE));
    }
    if (tickets !== undefined && path === ISSUER_JWKS_PATH && c.req.method === 'GET') {
      return Promise.resolve(tickets.jwks(c));
    }
    if (tickets !== undefined && path === TICKET_PATH && c.req.method === 'POST') {
      return issueTicket(tickets, c, connection, headers);
    }
    const input = inputOf(c, connection, glue.required, headers);
    if (input instanceof Promise) return input.then((read) => settleOutcome(c, next, verifier.verify(read)));
    return settleOutcome(c, next, verifier.verify(input));
  };
}

/** A middleware of the family with its handler form (`stamp.optional` is one). */
type FamilyMiddleware = MiddlewareHandler<{ Variables: IpStampVariables }> & { readonly handler: StampedHandler };

/**
 * One `ipstamp()` call's middlewares: the middleware as configured, and `.optional`, the same
 * verifier, replay store and ticket routes with a stamp optional — itself when `required` is
 * false already, as in ipstamp/node. Each is built once here, not per request.
 */
export function honoMiddlewareFamily(
  glue: HonoGlueSettings,
  verifier: GlueVerifier,
  connectionOf: ConnectionOf,
  tickets: TicketRoutes | undefined,
  replayStore: object,
): FamilyMiddleware & { readonly optional: FamilyMiddleware } {
  const family: StampFamily = { replayStore };
  const member = (required: boolean): FamilyMiddleware => {
    const middleware = honoMiddleware({ ...glue, required }, verifier, connectionOf, tickets, family);
    return Object.assign(middleware, { handler: stampedHandler(middleware, family) });
  };
  const middleware = member(glue.required);
  return Object.assign(middleware, { optional: glue.required ? member(false) : middleware });
}
