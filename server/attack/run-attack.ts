import type { Attack, AttackContext, AttackPlan, AttackRequest } from './catalog/types.js';
import { describeExpectation, isAccepted, judgeOutcome, worse, type Judgement } from './judge.js';
import type { AttackResult, Outcome } from './results.js';
import { describeOutcome, type Transport } from './transport.js';

const ACCEPT = { accept: true } as const;

function isRace(plan: AttackPlan): plan is { readonly race: readonly AttackRequest[] } {
  return typeof plan === 'object' && 'race' in plan;
}

function isSkip(plan: AttackPlan): plan is { readonly skip: string } {
  return typeof plan === 'object' && 'skip' in plan;
}

interface Judged {
  readonly judgement: Judgement;
  readonly got: string;
  readonly outcomes: Outcome[];
}

async function runSequence(attack: Attack, requests: readonly AttackRequest[], ctx: AttackContext, transport: Transport, timeoutMs: number): Promise<Judged> {
  const outcomes: Outcome[] = [];
  let judgement: Judgement = { verdict: 'pass' };
  let got = '';
  for (const req of requests) {
    const outcome = await transport.send(req, ctx.target);
    outcomes.push(outcome);
    if (req.setup) {
      const setup = judgeOutcome(ACCEPT, outcome, timeoutMs);
      if (setup.verdict !== 'pass') {
        // without an accepted original the attack proves nothing: a control failure, stop here
        const judgement: Judgement =
          setup.verdict === 'error'
            ? setup
            : { verdict: 'fail', note: 'the legitimate original was refused, so the attack proves nothing', legitimateRefused: true };
        const got = setup.verdict === 'error' ? `original ${describeOutcome(outcome, timeoutMs)}` : `original refused: ${describeOutcome(outcome, timeoutMs)}`;
        return { judgement, got, outcomes };
      }
      continue;
    }
    const one = judgeOutcome(attack.expect, outcome, timeoutMs);
    if (got === '' || worse(judgement, one) !== judgement) got = describeOutcome(outcome, timeoutMs);
    judgement = worse(judgement, one);
  }
  return { judgement, got, outcomes };
}

/** "7 × 401 replay, 1 × connection closed" */
function tally(outcomes: readonly Outcome[], timeoutMs: number): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const text = describeOutcome(o, timeoutMs);
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return [...counts].map(([text, n]) => `${n} × ${text}`).join(', ');
}

/** All copies at once; exactly one must be accepted (it is the control), every other is judged. */
async function runRace(attack: Attack, copies: readonly AttackRequest[], ctx: AttackContext, transport: Transport, timeoutMs: number): Promise<Judged> {
  const outcomes = await Promise.all(copies.map((req) => transport.send(req, ctx.target)));
  const accepted = outcomes.filter(isAccepted).length;
  const rest = outcomes.filter((o) => !isAccepted(o));
  let judgement = rest.map((o) => judgeOutcome(attack.expect, o, timeoutMs)).reduce(worse, { verdict: 'pass' });
  if (accepted > 1) {
    judgement = worse({ verdict: 'fail', note: `${accepted} of ${copies.length} copies of one stamp were accepted` }, judgement);
  } else if (accepted === 0 && judgement.verdict !== 'error') {
    judgement = { verdict: 'fail', note: 'no copy was accepted: the first use of a fresh stamp (the control) was refused', legitimateRefused: true };
  }
  const got = `${accepted} of ${copies.length} accepted${rest.length > 0 ? `; ${tally(rest, timeoutMs)}` : ''}`;
  return { judgement, got, outcomes };
}

/** Builds one attack, sends its requests, and judges what came back. Never throws. */
export async function runAttack(attack: Attack, ctx: AttackContext, transport: Transport, timeoutMs: number): Promise<AttackResult> {
  const started = performance.now();
  const base = { name: attack.name, description: attack.description, expect: attack.expect, must: describeExpectation(attack.expect), tags: attack.tags ?? [] };
  const finish = (judged: Omit<AttackResult, keyof typeof base | 'ms'>): AttackResult => ({ ...base, ...judged, ms: Math.round(performance.now() - started) });
  let plan: AttackPlan;
  try {
    plan = await attack.build(ctx);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return finish({ verdict: 'error', got: 'could not build the request', note: `build failed: ${message.slice(0, 200)}`, outcomes: [] });
  }
  if (isSkip(plan)) return finish({ verdict: 'skip', got: 'not applicable', note: plan.skip, outcomes: [] });
  const judged = isRace(plan)
    ? await runRace(attack, plan.race, ctx, transport, timeoutMs)
    : await runSequence(attack, Array.isArray(plan) ? plan : [plan as AttackRequest], ctx, transport, timeoutMs);
  const { note, legitimateRefused } = judged.judgement;
  return finish({
    verdict: judged.judgement.verdict,
    got: judged.got,
    outcomes: judged.outcomes,
    ...(note ? { note } : {}),
    ...(legitimateRefused ? { legitimateRefused } : {}),
  });
}
