import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Pool, type Dispatcher } from 'undici';
import { connectionHints } from '../verify/connection-hints.js';
import { sendServiceProblem } from '../fastify/problem.js';
import { isCorsPreflight } from '../verify/cors-preflight.js';
import { STAMP_HEADER } from '../../shared/constants.js';
import { boundAuthority, clientResponseHeaders, maxForwardsOf, stampedOrigin, upstreamRequestHeaders } from './forwarded-headers.js';
import { isConfinedRequestTarget, upstreamPath, type UpstreamTarget } from './upstream-target.js';

export interface UpstreamProxyOptions {
  /** Longest wait for the upstream: to connect, for its response head, and between body chunks. */
  readonly timeoutMs: number;
  /** The verifier's `forwardedHeader`, when not a standard one: consumed here, never forwarded. */
  readonly forwardedHeader?: string | undefined;
}

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function hasFramedBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * What the request carries to the upstream: the verified bytes, the stream as it arrives, or
 * nothing. Fastify parses no GET or HEAD body: one that came anyway goes as it arrives.
 */
function bodyOf(request: FastifyRequest): Buffer | Readable | undefined {
  const { body } = request;
  if (Buffer.isBuffer(body)) return body;
  if (body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function') return body as Readable;
  if (body === undefined && hasFramedBody(request) && !request.raw.readableEnded) return request.raw;
  return undefined;
}

/** How many lines of `rawHeaders` are named `name` (lower case). */
function lineCount(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) count++;
  return count;
}

/**
 * What the gateway refuses to forward whatever the stamp says, answered before verification:
 * a target that could leave the base path (`isConfinedRequestTarget`: absolute-form, `*`, a
 * dot-segment in any spelling); two Host lines (RFC 9112 §3.2: the gateway and the upstream
 * could each believe another); a CORS preflight with a body (no Fetch preflight has one, and
 * the preflight is the one request forwarded unverified); TRACE, which would reflect the
 * client's cookies and credentials back to whoever made it send them.
 */
function refusalOf(request: FastifyRequest): 'bad-request-target' | 'method-not-allowed' | undefined {
  const { raw } = request;
  if (!isConfinedRequestTarget(raw.url ?? '') || lineCount(raw.rawHeaders, 'host') > 1) return 'bad-request-target';
  if (isCorsPreflight(request.method, request.headers) && hasFramedBody(request)) return 'bad-request-target';
  if (request.method === 'TRACE') return 'method-not-allowed';
  return undefined;
}

/**
 * Has the client's connection closed, by the client or by an earlier answer on it
 * (`Connection: close`)? Either way nobody would get the upstream's answer. A socket ended by an
 * answer may still be read, for the rest of that request's body (a refused
 * `Expect: 100-continue` upload lingers, see continueWhenBodyRead), and a request pipelined
 * behind it must not be acted on (RFC 9112 §9.6).
 */
function connectionClosing(request: FastifyRequest): boolean {
  const { socket } = request.raw;
  return socket.destroyed || socket.writableEnded;
}

/** The Allow of an OPTIONS the gateway answers itself: RFC 9110's methods and PATCH, less TRACE (refused above). */
const GATEWAY_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH';

/** A name for this gateway in Via (RFC 9110 §7.6.3): random, so it tells nothing about where the gateway runs. */
export function viaPseudonym(): string {
  return `ipstamp-${randomBytes(4).toString('hex')}`;
}

/**
 * Does a Via line of `rawHeaders` name `pseudonym` anywhere? Searched as text, not parsed: a
 * client's unclosed comment (`Via: 1.1 a (`) would otherwise hide the entries after it, ours
 * included, from a parser. The pseudonym is random, so it turns up only where a gateway with
 * it wrote it.
 */
export function viaNames(rawHeaders: readonly string[], pseudonym: string): boolean {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'via' && rawHeaders[i + 1]!.toLowerCase().includes(pseudonym)) return true;
  }
  return false;
}

/** `headers` with this hop's Via entry appended to the client's (one line, the client's entries first). */
function withVia(headers: readonly string[], entry: string): string[] {
  const out: string[] = [];
  const via: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'via') via.push(headers[i + 1]!);
    else out.push(headers[i]!, headers[i + 1]!);
  }
  out.push('via', [...via, entry].join(', '));
  return out;
}

/** How often an answer being sent is checked for a client that stopped taking it. */
const PROGRESS_CHECK_MS = 1000;

/**
 * Cuts off a client that takes none of its answer for `timeoutMs` (--upstream-timeout), as
 * nginx's send_timeout does. Once the client stops reading, the upstream's body is paused, and
 * undici's body timeout does not run while it is paused: nothing else would ever end the
 * exchange, which held the client's connection, the upstream connection and a SIGTERM drain
 * for good. Only while the socket's buffer is full (the client is not reading): an upstream
 * slow to send is undici's to time. Progress is any byte the answer hands the socket.
 */
function cutOffStalledClient(response: ServerResponse, timeoutMs: number): void {
  // the response's socket: the request's is gone once its body has been read
  const socket: Socket | null = response.socket;
  if (socket === null) return;
  let written = socket.bytesWritten;
  let since = Date.now();
  const timer = setInterval(
    () => {
      const now = Date.now();
      if (socket.bytesWritten !== written || !socket.writableNeedDrain) {
        written = socket.bytesWritten;
        since = now;
      } else if (now - since >= timeoutMs) {
        socket.destroy();
      }
    },
    Math.min(PROGRESS_CHECK_MS, timeoutMs),
  );
  timer.unref();
  response.once('close', () => clearInterval(timer));
}

function bodyless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304;
}

/**
 * Every path, every method, forwarded to the upstream once the plugin accepted the stamp
 * (the route requires one, so `request.ipStamp` is set here; with --report-only it is null for
 * a refused one, and `request.ipStampRefusal` says why), by undici directly: the
 * gateway decides every header line that crosses it (forwarded-headers.ts), never retries,
 * and answers the upstream's failures as problem+json.
 *
 * Each request forwarded carries this gateway's random pseudonym in Via, after the client's
 * own entries; a request whose Via already names it has been here before — `--upstream` leads
 * back to this gateway, directly or through other hops — and is answered `508 upstream-loop`
 * before verification (the stamp was stripped on the way out, so it could not be verified
 * again; a CORS preflight needs none and would otherwise go round for ever). Comparing
 * addresses could not see a loop through another hop or a gateway listening on 0.0.0.0. Only
 * what no upstream is ever sent (`refusalOf`) is answered before that.
 */
export async function registerUpstreamProxy(app: FastifyInstance, target: UpstreamTarget, options: UpstreamProxyOptions): Promise<void> {
  const pseudonym = viaPseudonym();
  app.addHook('onRequest', async (request, reply) => {
    const refusal = refusalOf(request);
    if (refusal !== undefined) return sendServiceProblem(reply, refusal);
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!viaNames(request.raw.rawHeaders, pseudonym)) return;
    request.log.warn('ipstamp gateway: a request came back through this gateway (its Via names it): --upstream leads back here; answered 508');
    return sendServiceProblem(reply, 'upstream-loop');
  });
  const pool = new Pool(target.origin, {
    connectTimeout: options.timeoutMs,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  // onClose runs once the server has closed, i.e. after the last response: nothing is cut
  app.addHook('onClose', async () => {
    await pool.close();
  });

  const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const verdict = request.ipStamp;
    // the one request the plugin lets through unverified: a CORS preflight, for the upstream to
    // answer — sanitised like the rest, with no attested address
    const preflight = verdict === null && isCorsPreflight(request.method, request.headers);
    // --report-only: a refused stamp goes on too, with its reason and no attested address
    const refusal = verdict === null && !preflight ? (request.ipStampRefusal ?? undefined) : undefined;
    if (verdict === null && !preflight && refusal === undefined) throw new Error('ipstamp: an unverified request reached the upstream route');
    const { verifier } = app.ipstamp;
    const connection = connectionHints(request.socket);
    const hints = verdict?.hints ?? verifier.hints({ headers: request.headers, hints: connection });
    // the scheme the client used, from the same trusted evidence the binding check believes
    // (a TLS-terminating proxy in front), not merely this hop's
    const { scheme } = verifier.scheme({ headers: request.headers, hints: connection }, hints);
    // RFC 9110 §7.6.2: an OPTIONS that may be forwarded no further is answered here, about the gateway
    const maxForwards = maxForwardsOf(request.method, request.raw.rawHeaders);
    if (maxForwards === 0) return reply.code(200).header('allow', GATEWAY_METHODS).header('content-length', '0').send();
    const origins = verifier.settings.origins;
    // the token is read again only where the verdict cannot say it: with several --origin
    // values, step 9 compared htu with the set, not with Host
    const stamped = verdict !== null && origins !== undefined && origins.length > 1 ? stampedOrigin(request.headers[STAMP_HEADER]) : undefined;
    // a preflight with a body was refused on arrival; one framed empty goes with none
    const body = preflight ? undefined : bodyOf(request);
    const headers = withVia(
      upstreamRequestHeaders(request.raw.rawHeaders, {
        verdict,
        clientAddress: hints.observed ?? hints.l3,
        protocol: scheme,
        forwardedHeader: options.forwardedHeader,
        reframeBody: Buffer.isBuffer(body),
        // verified or refused: the origin the stamp was (or would have had to be) bound to, never
        // one the gateway would not bind a stamp to
        boundAuthority: verdict === null && refusal === undefined ? undefined : boundAuthority(origins, request.headers.host, scheme, stamped),
        refusal,
        preflight,
        maxForwards: maxForwards === undefined ? undefined : maxForwards - 1,
      }),
      `${request.raw.httpVersion} ${pseudonym}`,
    );
    // the client went away: so does the upstream request
    const abort = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    // closed (by the answer to a request ahead of this one, or by the client) while this one was
    // verified: nobody would get the upstream's answer
    if (connectionClosing(request)) return reply;
    let response: Dispatcher.ResponseData;
    try {
      response = await pool.request({
        method: request.method as Dispatcher.HttpMethod,
        // as received, before any rewriteUrl (the same target the stamp was bound to)
        path: upstreamPath(target, request.raw.url ?? '/'),
        headers,
        body: body ?? null,
        signal: abort.signal,
      });
    } catch (error) {
      if (abort.signal.aborted) return reply;
      const code = (error as { code?: unknown }).code;
      request.log.warn({ err: { code, message: (error as Error).message } }, 'ipstamp gateway: the upstream request failed');
      return sendServiceProblem(reply, typeof code === 'string' && TIMEOUT_CODES.has(code) ? 'upstream-timeout' : 'upstream-unavailable');
    }
    // 1xx were consumed by undici (a 101 it cannot follow fails above); anything else outside
    // 200–599 is no answer the client could be given
    if (response.statusCode < 200 || response.statusCode > 599) {
      await response.body.dump().catch(() => undefined);
      request.log.warn({ status: response.statusCode }, 'ipstamp gateway: the upstream answered with a status outside 200-599; answered 502');
      return sendServiceProblem(reply, 'upstream-unavailable');
    }
    void reply.code(response.statusCode).headers(clientResponseHeaders(response.headers));
    // an HTTP/1 connection cannot be reused before the client's body was read to its end
    if (!request.raw.complete) void reply.header('connection', 'close');
    if (bodyless(request.method, response.statusCode)) {
      await response.body.dump();
      return reply.send();
    }
    cutOffStalledClient(reply.raw, options.timeoutMs);
    return reply.send(response.body);
  };
  app.all('/', forward);
  app.all('/*', forward);
}
