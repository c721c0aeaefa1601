import { isReason, REASON_STATUS } from '../../shared/index.js';
import type { Expectation } from './catalog/types.js';
import type { AttackResult, Outcome, ResultVerdict, RunVerdict } from './results.js';
import { describeOutcome } from './transport.js';

/** Judging: one outcome against what a safe verifier must do, and the run as a whole. */

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
      : {
          verdict: 'warn',
          note: 'answered instead of closing the connection (a server without the PROXY protocol layer reads the header as bad HTTP); PROTOCOL §4 says to close it unanswered',
        };
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

/**
 * The run's conclusion. An accepted attack convicts the target only while the legitimate
 * requests of its kind were accepted: a target that refuses the controls (wrong route, wrong
 * key, wrong address) refuses attacks for the same reason, and proves nothing either way.
 * Stamp and ticket attacks have their own controls, so each kind is judged against its own.
 */
export interface Conclusion {
  readonly verdict: RunVerdict;
  readonly inconclusive: readonly string[];
  readonly exitCode: 0 | 1 | 2;
}

type Kind = 'ticket' | 'stamp';
const kindOf = (r: Pick<AttackResult, 'tags'>): Kind => (r.tags.includes('ticket') ? 'ticket' : 'stamp');

/** "a, b, c and 4 more" */
function listed(names: readonly string[], shown = 4): string {
  if (names.length <= shown) return names.join(', ');
  return `${names.slice(0, shown).join(', ')} and ${names.length - shown} more`;
}

/**
 * `budget`: why attacks were not run for the issuer's rate limit (one sentence), with their
 * names, so they are not listed again among the attacks that could not run.
 */
export function conclude(results: readonly AttackResult[], budget?: { reason: string; notRun: readonly string[] }): Conclusion {
  const refused = results.filter((r) => r.legitimateRefused === true);
  const refusedKinds = new Set(refused.map(kindOf));
  const accepted = results.filter((r) => r.verdict === 'fail' && r.legitimateRefused !== true);
  if (accepted.some((r) => !refusedKinds.has(kindOf(r)))) return { verdict: 'UNSAFE', inconclusive: [], exitCode: 1 };

  const reasons = refused.map((r) => `${r.name}: a legitimate request was refused — ${r.got}`);
  if (accepted.length > 0) {
    reasons.push(
      `${listed(accepted.map((r) => r.name))} got through, but legitimate requests of the same kind were refused too: make the controls pass and run again`,
    );
  }
  if (budget !== undefined && budget.notRun.length > 0) reasons.push(budget.reason);
  const skippedForBudget = new Set(budget?.notRun ?? []);
  const byNote = new Map<string, string[]>();
  for (const r of results) {
    if (r.verdict !== 'error' || skippedForBudget.has(r.name)) continue;
    const note = r.note ?? r.got;
    byNote.set(note, [...(byNote.get(note) ?? []), r.name]);
  }
  for (const [note, names] of byNote) reasons.push(`${listed(names)} could not run: ${note}`);
  // every attack not applicable (e.g. --only alg-swap-hmac with an ES256 key): nothing was tested, so nothing is SAFE
  const attacks = results.filter((r) => !('accept' in r.expect));
  if (attacks.length > 0 && attacks.every((r) => r.verdict === 'skip')) {
    const one = attacks.length === 1;
    reasons.push(
      `no attack applied to the target: ${listed(attacks.map((r) => r.name))} ${one ? 'was' : 'were'} not applicable (see ${one ? 'its note' : 'their notes'})`,
    );
  }
  return reasons.length > 0 ? { verdict: 'INCONCLUSIVE', inconclusive: reasons, exitCode: 2 } : { verdict: 'SAFE', inconclusive: [], exitCode: 0 };
}
