import type { FastifyRequest } from 'fastify';
import { rateLimitKey, type RateLimitKeyOptions } from '../verify/rate-limit-key.js';
import { connectionHints } from './connection-hints.js';

/**
 * The key a rate limiter (`@fastify/rate-limit`'s `keyGenerator`) should count this request
 * under: `rateLimitKey` of the verdict once the plugin has verified the request, else of the
 * network hints the plugin's verifier works out — so it answers the same in an `onRequest`
 * limiter, before verification, as after it (the observed address is the verdict's on `match`).
 * Needs the ipstamp plugin registered on this instance or an ancestor.
 */
export function rateLimitKeyOf(request: FastifyRequest, options?: RateLimitKeyOptions): string {
  if (request.ipStamp) return rateLimitKey(request.ipStamp, options);
  const decoration = (request.server as Partial<FastifyRequest['server']>).ipstamp;
  if (decoration === undefined) throw new TypeError('rateLimitKeyOf needs the ipstamp plugin registered on this Fastify instance');
  return rateLimitKey(decoration.verifier.hints({ headers: request.headers, hints: connectionHints(request.socket) }), options);
}
