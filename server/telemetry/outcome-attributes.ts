/**
 * The bounded attribute sets of ipstamp's metrics and spans, each built once, frozen, and
 * handed out for every verification: no object per request, and no object literal with
 * computed keys on the hot path. Such a literal (`{ [ATTR.outcome]: …, [ATTR.reason]: … }`)
 * adds its keys one at a time through hidden classes no object keeps; a full collection while
 * none is alive (an idle server's) frees them, and the literal then defines its keys in V8's
 * runtime for good: 13× its cost in a tight loop (bench/README.md, "Thirteenth pass"; the same
 * slow path as Node's tick objects, server/runtime/tick-shapes.ts).
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { REASONS, type Reason } from '../../shared/reasons.js';
import type { Agreement, Verdict, VerifyResult } from '../verify/types.js';
import { TELEMETRY_NAMES } from './names.js';

const { attributes: ATTR } = TELEMETRY_NAMES;

/** One attribute set, frozen: the properties set one by one, never as a literal with computed keys. */
function attributeSet(entries: readonly (readonly [string, AttributeValue])[]): Attributes {
  const set: Attributes = {};
  for (const [name, value] of entries) set[name] = value;
  return Object.freeze(set);
}

type Outcome = 'accepted' | 'rejected' | 'unstamped' | 'error';
type StoreOutcome = 'inserted' | 'replay' | 'full' | 'error';

const OUTCOME_ONLY: Readonly<Record<Outcome, Attributes>> = {
  accepted: attributeSet([[ATTR.outcome, 'accepted']]),
  rejected: attributeSet([[ATTR.outcome, 'rejected']]),
  unstamped: attributeSet([[ATTR.outcome, 'unstamped']]),
  error: attributeSet([[ATTR.outcome, 'error']]),
};

const REJECTED = Object.fromEntries(
  REASONS.map((reason) => [
    reason,
    attributeSet([
      [ATTR.outcome, 'rejected'],
      [ATTR.reason, reason],
    ]),
  ]),
) as Readonly<Record<Reason, Attributes>>;

/** [replayChecked false, replayChecked true] for one agreement and source. */
function acceptedPair(agreement: Agreement, source: Verdict['source']): readonly [Attributes, Attributes] {
  const set = (replayChecked: boolean) =>
    attributeSet([
      [ATTR.outcome, 'accepted'],
      [ATTR.agreement, agreement],
      [ATTR.replayChecked, replayChecked],
      [ATTR.source, source],
    ]);
  return [set(false), set(true)];
}

// a Record over both unions: a new agreement or source fails to compile until it has its sets
const ACCEPTED: Readonly<Record<Agreement, Readonly<Record<Verdict['source'], readonly [Attributes, Attributes]>>>> = {
  match: { stamp: acceptedPair('match', 'stamp'), ticket: acceptedPair('match', 'ticket') },
  mismatch: { stamp: acceptedPair('mismatch', 'stamp'), ticket: acceptedPair('mismatch', 'ticket') },
  unverifiable: { stamp: acceptedPair('unverifiable', 'stamp'), ticket: acceptedPair('unverifiable', 'ticket') },
};

const STORE_OUTCOME: Readonly<Record<StoreOutcome, Attributes>> = {
  inserted: attributeSet([[ATTR.storeOutcome, 'inserted']]),
  replay: attributeSet([[ATTR.storeOutcome, 'replay']]),
  full: attributeSet([[ATTR.storeOutcome, 'full']]),
  error: attributeSet([[ATTR.storeOutcome, 'error']]),
};

/** What the requests counter and the verify span carry: bounded values only (a reason, an agreement). */
export function outcomeAttributes(result: VerifyResult): Attributes {
  if (!result.ok) return REJECTED[result.reason];
  const { verdict } = result;
  if (verdict === null) return OUTCOME_ONLY.unstamped;
  return ACCEPTED[verdict.agreement][verdict.source][verdict.replayChecked ? 1 : 0];
}

/** The verify-duration histogram's attributes: the outcome alone. */
export function durationAttributes(result: VerifyResult): Attributes {
  if (!result.ok) return OUTCOME_ONLY.rejected;
  return result.verdict === null ? OUTCOME_ONLY.unstamped : OUTCOME_ONLY.accepted;
}

/** The verify-duration histogram's attributes when verify threw. */
export const ERROR_DURATION_ATTRIBUTES: Attributes = OUTCOME_ONLY.error;

/** The replay-store histogram's attributes: what the store answered. */
export function storeOutcomeAttributes(outcome: StoreOutcome): Attributes {
  return STORE_OUTCOME[outcome];
}
