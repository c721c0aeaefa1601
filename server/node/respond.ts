import type { ServerResponse } from 'node:http';
import type { Reason } from '../../shared/reasons.js';
import type { ServiceReason } from '../../shared/service-reasons.js';
import { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf, type IpStampProblem, type ServiceProblem } from '../../shared/problem.js';

/** The refusal, byte for byte the Fastify plugin's: problem+json, `no-store`, the response ended. */
export function sendProblem(res: ServerResponse, reason: Reason): void {
  sendProblemBody(res, problemOf(reason));
}

export function sendServiceProblem(res: ServerResponse, reason: ServiceReason): void {
  sendProblemBody(res, serviceProblemOf(reason));
}

function sendProblemBody(res: ServerResponse, problem: IpStampProblem | ServiceProblem): void {
  sendJson(res, problem.status, problem, PROBLEM_CONTENT_TYPE, 'no-store');
}

/**
 * Nothing when the response was answered meanwhile: with a verdict or a ticket awaited in a
 * promise (a Redis store, telemetry), a timeout middleware or Koa may have answered first, and a
 * second head would throw ERR_HTTP_HEADERS_SENT out of that promise, an unhandled rejection.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, contentType: string, cacheControl: string): void {
  if (res.headersSent) return;
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': contentType, 'cache-control': cacheControl, 'content-length': bytes.length });
  res.end(bytes);
}
