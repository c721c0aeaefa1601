import { PROBLEM_CONTENT_TYPE, problemOf, serviceProblemOf } from '../../shared/problem.js';
import type { Reason } from '../../shared/reasons.js';
import type { ServiceReason } from '../../shared/service-reasons.js';

const NO_STORE = { 'cache-control': 'no-store' } as const;

/** problem+json, exactly the media type PROTOCOL.md names; `no-store`: it is about this one request. */
export function problemResponse(reason: Reason): Response {
  return problemBody(problemOf(reason));
}

export function serviceProblemResponse(reason: ServiceReason): Response {
  return problemBody(serviceProblemOf(reason));
}

function problemBody(problem: { status: number }): Response {
  return new Response(JSON.stringify(problem), { status: problem.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...NO_STORE } });
}
