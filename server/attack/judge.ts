import { isReason } from '../../shared/reasons.js';
import { REASON_STATUS } from '../../shared/reasons.js';
import type { Expectation, Outcome, ResultVerdict } from './types.js';

export interface Judgement {
  readonly verdict: Exclude<ResultVerdict, 'skip'>;
  readonly note?: string;
  /** A legitimate request (a control, a replay's original) was refused: the result proves nothing. */
  readonly legitimateRefused?: true;
}

const RANK: Readonly<Record<Judgement['verdict'], number>> = { pass: 0, warn: 1, fail: 2, error: 3 };

/** The worse of two judgements (error > fail > warn > pass); the first on a tie. */
export function worse(a: Judgement, b: Judgement): Judgement {
  return RANK[b.verdict] > RANK[a.verdict] ? b : a;
}

export const isAccepted = (o: Outcome): boolean => o.kind === 'response' && o.status >= 200 && o.status < 300;
/** PROTOCOL's sense: any 4xx/5xx, or a connection closed without an answer. */
export const isRejected = (o: Outcome): boolean => o.kind === 'closed' || (o.kind === 'response' && o.status >= 400);

/** What a safe verifier must do, in words: `reject 401 replay`, `reject: close the connection`, `accept 2xx`. */
export function describeExpectation(expect: Expectation): string {
  if ('accept' in expect) return 'accept 2xx';
  if (expect.reason === undefined) return 'reject 4xx/5xx';
  if (expect.reason === 'closed') return 'reject: close connection';
  return `reject ${REASON_STATUS[expect.reason]} ${expect.reason}`;
}

export function describeOutcome(o: Outcome, timeoutMs: number): string {
  switch (o.kind) {
    case 'closed':
      return 'connection closed';
    case 'timeout':
      return `no answer in ${timeoutMs} ms`;
    case 'unreachable':
      return `unreachable (${o.code})`;
    case 'not-sent':
      return 'not sent (rate limit)';
    case 'response':
      if (o.status >= 200 && o.status < 300) {
        const shown = [o.agreement, o.source].filter((s) => s !== undefined);
        return `${o.status} accepted${shown.length > 0 ? ` (${shown.join(', ')})` : ''}`;
      }
      return `${o.status} ${o.reason ?? '(no reason)'}`;
  }
}

/** One request's outcome against what a safe verifier must do. */
export function judgeOutcome(expect: Expectation, o: Outcome, timeoutMs: number): Judgement {
  if (o.kind === 'unreachable') return { verdict: 'error', note: 'the target stopped accepting connections' };
  if (o.kind === 'not-sent') return { verdict: 'error', note: o.why };
  // a rate limiter refuses whatever the request carries: its 429 says nothing about the stamp check
  if (o.kind === 'response' && o.status === 429) return { verdict: 'error', note: 'rate-limited (429): not judged' };
  if ('accept' in expect) {
    if (isAccepted(o)) return { verdict: 'pass' };
    return { verdict: 'fail', note: 'a legitimate request was refused', legitimateRefused: true };
  }
  if (isAccepted(o)) return { verdict: 'fail', note: 'the target accepted it' };
  if (o.kind === 'timeout') {
    return { verdict: 'warn', note: `not accepted, but no answer within ${timeoutMs} ms: a verifier should answer or close` };
  }
  if (!isRejected(o)) return { verdict: 'fail', note: `answered ${describeOutcome(o, timeoutMs)}, which is not a rejection` };
  const predicted = expect.reason;
  if (predicted === undefined) return { verdict: 'pass' };
  if (predicted === 'closed') {
    return o.kind === 'closed'
      ? { verdict: 'pass' }
      : { verdict: 'warn', note: 'answered instead of closing the connection (a server without the PROXY protocol layer reads the header as bad HTTP); PROTOCOL §4 says to close it unanswered' };
  }
  if (o.kind === 'closed') return { verdict: 'warn', note: `rejected by closing the connection; PROTOCOL §5 predicts ${predicted}` };
  if (o.reason !== predicted) {
    const got = o.reason !== undefined && isReason(o.reason) ? o.reason : 'no ipstamp reason';
    return { verdict: 'warn', note: `rejected, but for another reason (${got}) than PROTOCOL §5 predicts (${predicted})` };
  }
  if (o.status !== REASON_STATUS[predicted]) {
    return { verdict: 'warn', note: `rejected as ${predicted}, but with status ${o.status}; PROTOCOL §5 says ${REASON_STATUS[predicted]}` };
  }
  return { verdict: 'pass' };
}
