import type { FastifyInstance, FastifyReply } from 'fastify';
import { normalizeOrigin } from '../../shared/htu.js';
import { isCorsPreflight, STAMP_REQUEST_HEADERS } from '../verify/cors-preflight.js';

/** What a page on an allowed origin may send: the stamp, the ticket, a JSON body. */
export const CORS_ALLOWED_HEADERS = Object.freeze([...STAMP_REQUEST_HEADERS, 'content-type']);
/**
 * Response headers a page may read beyond the safelisted ones (Content-Type is one, so the
 * SDK reads a problem+json reason without help): the server's clock, to tell skew from
 * expiry, and how long to wait after a 429 or 503.
 */
export const CORS_EXPOSED_HEADERS = Object.freeze(['date', 'retry-after']);
export const CORS_ALLOWED_METHODS = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Seconds a browser may reuse a preflight answer (Chromium caps it at 7200). */
export const CORS_MAX_AGE = 600;

export interface CorsAnswerOptions {
  /** The origins whose pages may call, e.g. `https://app.example.com`. Others get no CORS headers. */
  origins: readonly string[];
}

function allowedOrigins(origins: unknown): ReadonlySet<string> {
  if (!Array.isArray(origins)) throw new TypeError('cors.origins must be an array of http(s) origins');
  return new Set(
    origins.map((origin: unknown) => {
      const normalized = typeof origin === 'string' ? normalizeOrigin(origin) : undefined;
      if (normalized === undefined) throw new TypeError('cors.origins must hold http(s) origins such as https://app.example.com');
      return normalized;
    }),
  );
}

/** Adds `token` to Vary unless it is there already (an upstream may have set its own). */
function varyOn(reply: FastifyReply, token: string): void {
  const current = reply.getHeader('vary');
  const list = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (list.includes('*') || list.some((t) => t.toLowerCase() === token.toLowerCase())) return;
  void reply.header('vary', [...list, token].join(', '));
}

/**
 * Answers CORS itself, for `ipstamp serve`: every preflight is answered here (204, never
 * verified, never forwarded); a page on an allowed origin gets the allow headers, any other
 * origin none, so its browser stops. Every other answer — accepted, refused (problem+json),
 * forwarded from an upstream, rate-limited — carries Access-Control-Allow-Origin for an
 * allowed origin, added in onSend so no refusal path can miss it and an upstream's own CORS
 * headers cannot contradict the preflight. Register it before the ipstamp plugin.
 */
export function registerCorsAnswers(fastify: FastifyInstance, options: CorsAnswerOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('cors must be an object with origins');
  const origins = allowedOrigins(options.origins);
  // browsers send the ASCII serialization, which is what normalizeOrigin writes: compare as is
  const allowed = (origin: string | string[] | undefined): origin is string => typeof origin === 'string' && origins.has(origin);

  fastify.addHook('onRequest', async (request, reply) => {
    if (!isCorsPreflight(request.method, request.headers)) return;
    const origin = request.headers.origin;
    void reply.code(204);
    if (origins.size > 0) varyOn(reply, 'Origin');
    if (allowed(origin)) {
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', CORS_ALLOWED_METHODS.join(', '))
        .header('access-control-allow-headers', CORS_ALLOWED_HEADERS.join(', '))
        .header('access-control-max-age', String(CORS_MAX_AGE));
    }
    // awaiting the reply is Fastify's "return reply": later hooks and the handler are skipped
    await reply.send();
  });

  if (origins.size === 0) return;
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (isCorsPreflight(request.method, request.headers)) return payload;
    varyOn(reply, 'Origin');
    const origin = request.headers.origin;
    if (allowed(origin)) {
      void reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
    } else {
      // only this server speaks CORS here: an upstream's own headers would contradict the preflight
      void reply.removeHeader('access-control-allow-origin').removeHeader('access-control-expose-headers').removeHeader('access-control-allow-credentials');
    }
    return payload;
  });
}
