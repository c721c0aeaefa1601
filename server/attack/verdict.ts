import type { AttackResult, RunVerdict } from './types.js';

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
  return reasons.length > 0 ? { verdict: 'INCONCLUSIVE', inconclusive: reasons, exitCode: 2 } : { verdict: 'SAFE', inconclusive: [], exitCode: 0 };
}
