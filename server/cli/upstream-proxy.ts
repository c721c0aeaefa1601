import type { IncomingHttpHeaders } from 'node:http';
import replyFrom, { type FastifyReplyFromHooks } from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest, RawServerBase, RouteGenericInterface } from 'fastify';
import { STAMP_HEADER, TICKET_HEADER } from '../../shared/schema.js';
import { isCorsPreflight } from '../verify/cors-preflight.js';
import type { Verdict } from '../verify/types.js';

export const ATTESTED_IP_HEADER = 'x-attested-client-ip';
export const ATTESTED_AGREEMENT_HEADER = 'x-attested-client-ip-agreement';

/**
 * The headers the upstream receives: the client's own, minus the stamp and ticket (consumed
 * here) and minus anything named like ours (a client must never choose what the upstream
 * trusts), plus the verdict — none for a CORS preflight, which is never verified.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, verdict: Verdict | null): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === STAMP_HEADER || lower === TICKET_HEADER || lower.startsWith(ATTESTED_IP_HEADER)) continue;
    out[name] = value;
  }
  if (verdict === null) return out;
  out[ATTESTED_IP_HEADER] = verdict.ip;
  out[ATTESTED_AGREEMENT_HEADER] = verdict.agreement;
  return out;
}

/** The client learns that the upstream failed, not where it lives or how (the log says). */
function upstreamFailed(reply: FastifyReply<RouteGenericInterface, RawServerBase>, { error }: { error: Error }): void {
  reply.log.warn({ err: error }, 'ipstamp serve: the upstream request failed');
  const timedOut = (error as { statusCode?: number }).statusCode === 504;
  void reply
    .code(timedOut ? 504 : 502)
    .send({ statusCode: timedOut ? 504 : 502, error: timedOut ? 'Gateway Timeout' : 'Bad Gateway', message: 'the upstream did not answer' });
}

/**
 * Every path, every method, forwarded to `upstream` once the plugin accepted the stamp
 * (the route requires one, so `request.ipStamp` is set here), and CORS preflights, which
 * carry no stamp by design, forwarded without any attested address. Method, path, query and
 * headers go as received; the body as the request stream, or as the exact bytes when it was
 * buffered for `cdg`.
 */
export async function registerUpstreamProxy(app: FastifyInstance, upstream: URL): Promise<void> {
  await app.register(replyFrom, { base: upstream.origin, disableRequestLogging: true });
  const forward = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const verdict = request.ipStamp;
    // the one request the plugin lets through unverified: a CORS preflight, for the upstream to answer
    if (verdict === null && !isCorsPreflight(request.method, request.headers)) throw new Error('ipstamp: an unverified request reached the upstream route');
    const options: FastifyReplyFromHooks = {
      rewriteRequestHeaders: (_req, headers) => upstreamHeaders(headers as IncomingHttpHeaders, verdict),
      // never resend: the upstream would see one client request twice (reply-from retries a GET on 503)
      retryDelay: () => null,
      onError: upstreamFailed,
    };
    if (Buffer.isBuffer(request.body)) {
      // as bytes with their own type: reply-from would JSON.stringify a Buffer sent as JSON
      options.body = request.body;
      options.contentType = request.headers['content-type'] ?? 'application/octet-stream';
    }
    return reply.from(undefined, options);
  };
  app.all('/', forward);
  app.all('/*', forward);
}
