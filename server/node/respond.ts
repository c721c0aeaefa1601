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

export function sendJson(res: ServerResponse, status: number, body: unknown, contentType: string, cacheControl: string): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': contentType, 'cache-control': cacheControl, 'content-length': bytes.length });
  res.end(bytes);
}
