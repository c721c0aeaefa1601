import type { Context, MiddlewareHandler } from 'hono';
import { ISSUER_JWKS_PATH, STAMP_HEADER, TICKET_PATH } from '../../shared/constants.js';
import { compactHeaderValue, decodeJsonSegment, splitCompact } from '../jws/compact.js';
import { connectionHints } from '../verify/connection-hints.js';
import { createVerifier } from '../verify/create-verifier.js';
import { isCorsPreflight } from '../verify/cors-preflight.js';
import type { Verifier } from '../verify/verifier.js';
import type { ConnectionHints, HeaderMap, Verdict, VerifyInput } from '../verify/types.js';
import { splitHonoOptions, type ConnectionOf, type IpStampHonoOptions } from './options.js';
import { problemResponse } from './problem.js';
import { createTicketRoutes } from './ticket-routes.js';

/**
 * The variables the middleware sets: `c.get('ipStamp')` is the accepted verdict, or null
 * when an optional stamp was absent (and on a CORS preflight). Give them to your app as
 * `new Hono<{ Variables: IpStampVariables }>()`; no global `ContextVariableMap` augmentation,
 * so apps in the same program that do not use ipstamp are not told they have it.
 */
export interface IpStampVariables {
  ipStamp: Verdict | null;
}

/** The middleware, with the verifier it runs (for code that verifies outside a route: a WebSocket upgrade…). */
export type IpStampMiddleware = MiddlewareHandler<{ Variables: IpStampVariables }> & { readonly verifier: Verifier };

/** PROTOCOL.md §6. */
export const ECHO_PATH = '/.well-known/ipstamp';

const NO_STORE = { 'cache-control': 'no-store' } as const;

/**
 * `@hono/node-server` hands the Node request as `c.env.incoming`: its socket's peer was
 * recorded at accept when the server is tracked (`trackPeerAddresses(server)`), else it is
 * read now — and a reset connection then reads nothing, which the verifier refuses.
 */
export const nodeConnection: ConnectionOf = (c) => {
  const incoming = (c.env as { incoming?: { socket?: unknown } } | undefined)?.incoming;
  return connectionHints(incoming?.socket as Parameters<typeof connectionHints>[0]);
};

/** `@hono/node-server`'s Node request, when the app runs there. */
function nodeRequestOf(c: Context): { headers: HeaderMap; url?: string } | undefined {
  const incoming = (c.env as { incoming?: { headers?: HeaderMap; url?: string } } | undefined)?.incoming;
  return incoming?.headers === undefined ? undefined : (incoming as { headers: HeaderMap; url?: string });
}

function headerMapOf(c: Context): HeaderMap {
  // On Node, the headers as Node parsed them (what the Fastify glue sees too), without making
  // @hono/node-server build a whole web Request
  const node = nodeRequestOf(c);
  if (node !== undefined) return node.headers;
  // Headers lower-cases names and joins repeats with ", "
  const headers = c.req.header();
  // a Request built in code (app.request, some runtimes) may carry no Host: the URL names it
  if (headers.host === undefined) headers.host = new URL(c.req.url).host;
  return headers;
}

/** Does the (still unverified) stamp ask for a body digest? Decides only whether to read the bytes. */
function stampDeclaresBodyDigest(raw: string | readonly string[] | undefined): boolean {
  if (raw === undefined) return false;
  const token = compactHeaderValue(raw);
  const parts = token === undefined ? undefined : splitCompact(token);
  const claims = parts && decodeJsonSegment(parts.payloadSegment);
  return claims !== undefined && Object.hasOwn(claims, 'cdg');
}

/**
 * The exact body bytes for `cdg`, read once through `c.req.arrayBuffer()` (Hono keeps them, so
 * the handler's `c.req.json()` still works). Only when the stamp asks, and only a body whose
 * `Content-Length` is within the limit: a chunked or larger body stays unknown and its `cdg`
 * fails closed, so no unbounded read happens before verification. Undefined, not a promise,
 * when there is nothing to read (a GET): the length is checked before the stamp is decoded.
 */
function bodyForDigest(c: Context, headers: HeaderMap, limit: number): Promise<Uint8Array> | undefined {
  const length = headers['content-length'];
  if (typeof length !== 'string' || !/^\d{1,15}$/.test(length) || Number(length) > limit) return undefined;
  if (!stampDeclaresBodyDigest(headers[STAMP_HEADER])) return undefined;
  return c.req.arrayBuffer().then((bytes) => new Uint8Array(bytes));
}

/** Path and query as received: htu was signed over what the client sent. */
function requestTarget(c: Context): string {
  const url = nodeRequestOf(c)?.url;
  if (url !== undefined && url.startsWith('/')) return url;
  const parsed = new URL(c.req.url);
  return `${parsed.pathname}${parsed.search}`;
}

/**
 * `ipstamp(options)`: a Hono middleware. Accepted → `c.get('ipStamp')` is the verdict;
 * refused → problem+json and the handler never runs; no stamp on an optional route → null.
 * It answers the echo route and, with `issuer`, the ticket routes itself; CORS preflights
 * pass through unverified.
 */
export function ipstamp(options: IpStampHonoOptions): IpStampMiddleware {
  const { glue, verifier: verifierOptions } = splitHonoOptions(options);
  const verifier = createVerifier(verifierOptions);
  const connectionOf = glue.connection ?? nodeConnection;
  const tickets = glue.issuer === undefined ? undefined : createTicketRoutes(glue.issuer, verifierOptions, verifier);

  // synchronous unless a body has to be read first: an await per request costs a microtask turn
  function inputOf(c: Context, connection: ConnectionHints, required: boolean, headers: HeaderMap): VerifyInput | Promise<VerifyInput> {
    const input: VerifyInput = {
      method: c.req.method,
      url: requestTarget(c),
      headers,
      body: undefined,
      protocol: c.req.url.startsWith('https:') ? 'https' : 'http',
      hints: connection,
      required,
    };
    const body = bodyForDigest(c, headers, glue.bodyLimit);
    return body === undefined ? input : body.then((bytes) => ({ ...input, body: bytes }));
  }

  const middleware: MiddlewareHandler<{ Variables: IpStampVariables }> = async (c, next) => {
    c.set('ipStamp', null);
    const headers = headerMapOf(c);
    if (isCorsPreflight(c.req.method, headers)) return next();
    const connection = connectionOf(c);
    const path = c.req.path;
    if (glue.echo && path === ECHO_PATH && c.req.method === 'GET') {
      const hints = verifier.hints({ headers, hints: connection });
      // a peer unknown at accept (reset connection) has no address to echo: the refusal a stamp would get
      if (hints.l3 === undefined) return problemResponse('ip-unverifiable');
      return c.json({ ip: hints.observed ?? hints.l3 }, 200, NO_STORE);
    }
    if (tickets !== undefined && path === ISSUER_JWKS_PATH && c.req.method === 'GET') return tickets.jwks(c);
    if (tickets !== undefined && path === TICKET_PATH && c.req.method === 'POST') {
      return tickets.issue(c, connection, await inputOf(c, connection, true, headers));
    }
    const input = inputOf(c, connection, glue.required, headers);
    const result = await verifier.verify(input instanceof Promise ? await input : input);
    if (!result.ok) return problemResponse(result.reason);
    c.set('ipStamp', result.verdict);
    return next();
  };
  return Object.assign(middleware, { verifier });
}
