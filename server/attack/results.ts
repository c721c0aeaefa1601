import type { StampAlg } from '../../shared/index.js';
import type { Expectation } from './catalog/types.js';

/**
 * What a run ends with: a report — every attack's outcomes, result and the verdict — or an
 * `AttackSetupError` when it cannot start at all.
 */

/** What came back for one request. */
export type Outcome =
  | { readonly kind: 'response'; readonly status: number; readonly reason?: string; readonly agreement?: string; readonly source?: 'ticket' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly code: string }
  /** Not sent: the issuer's rate limit has no request left for it (`why` says so). */
  | { readonly kind: 'not-sent'; readonly why: string };

export type ResultVerdict = 'pass' | 'warn' | 'fail' | 'skip' | 'error';

export interface AttackResult {
  readonly name: string;
  readonly description: string;
  readonly expect: Expectation;
  /** What a safe verifier must do, in words: `reject 401 replay`. */
  readonly must: string;
  /** What came back, in words: `401 replay`, `200 accepted (match)`, `connection closed`. */
  readonly got: string;
  readonly verdict: ResultVerdict;
  /** Why a result is not a plain pass. */
  readonly note?: string;
  /** Every request's outcome, in the order sent. */
  readonly outcomes: readonly Outcome[];
  readonly tags: readonly string[];
  readonly ms: number;
  /**
   * A legitimate request of this attack was refused — it is a control, or the original a
   * replay needs — so it proves nothing about the target: the run is INCONCLUSIVE, not UNSAFE.
   */
  readonly legitimateRefused?: true;
}

export interface AttackSummary {
  readonly total: number;
  readonly passed: number;
  readonly warnings: number;
  readonly failed: number;
  readonly skipped: number;
  readonly errors: number;
}

export interface AttackReport {
  readonly target: string;
  readonly ip: string;
  /** Where `ip` came from: the target's echo endpoint, or the caller. */
  readonly ipSource: 'echo' | 'given';
  readonly kid: string;
  readonly alg: StampAlg;
  /** The ticket endpoint the ticket attacks asked, when they ran. */
  readonly ticketIssuer?: string;
  readonly startedAt: string;
  readonly ms: number;
  readonly results: readonly AttackResult[];
  readonly summary: AttackSummary;
  /** The route attacked: every request uses this method (POST-like methods carry a digested body). */
  readonly method: string;
  /** The ticket issuer's rate limit as it stated it, and what the run planned and sent (when ticket attacks ran). */
  readonly ticketRequests?: TicketRequestBudget;
  /** Things a reader must know to read the results (e.g. the target only flags ip mismatches). */
  readonly notes: readonly string[];
  /**
   * SAFE: every attack rejected, every legitimate request accepted. UNSAFE: an attack was
   * accepted while the legitimate requests of its kind (stamp or ticket) were. INCONCLUSIVE:
   * the run cannot tell — a control or a replay's original was refused, an attack could not
   * run, no selected attack applied to the target, or the issuer's rate limit left no room;
   * `inconclusive` says which.
   */
  readonly verdict: RunVerdict;
  /** Why the verdict is INCONCLUSIVE, one sentence each; empty otherwise. */
  readonly inconclusive: readonly string[];
  /** The CLI's exit status: SAFE 0, UNSAFE 1, INCONCLUSIVE 2 (as when the run cannot start). */
  readonly exitCode: 0 | 1 | 2;
}

export type RunVerdict = 'SAFE' | 'UNSAFE' | 'INCONCLUSIVE';

export interface TicketRequestBudget {
  /** Requests to the ticket endpoint the selected attacks need (the held ticket once). */
  readonly needed: number;
  /** Requests the run sent there. */
  readonly sent: number;
  /** Requests per window, from the issuer's `x-ratelimit-limit`; absent when it states none. */
  readonly limit?: number;
  /** Requests left when the run ended, as the issuer last stated minus those sent since. */
  readonly left?: number;
}

/** What the run knows once the target's address is known, before the first attack (`onReady`). */
export type AttackRunInfo = Pick<AttackReport, 'target' | 'method' | 'ip' | 'ipSource' | 'kid' | 'alg' | 'ticketIssuer'>;

/** Why a run could not start (the CLI's exit 2): the messages are fixed and never echo key material. */
export type AttackSetupProblem = 'target-unreachable' | 'key-unusable' | 'bad-target' | 'no-address' | 'no-issuer';

const MESSAGES: Readonly<Record<AttackSetupProblem, string>> = {
  'target-unreachable': 'the target cannot be reached',
  'key-unusable': 'the key is not a usable private JWK (or oct) with kid and alg',
  'bad-target': 'the target must be an absolute http:// or https:// URL',
  'no-address': 'the target did not say which address it sees for us (GET /.well-known/ipstamp); pass --ip',
  'no-issuer': 'without a client key only the ticket attacks can run, and the target issues no tickets; pass --key, or --issuer URL',
};

export class AttackSetupError extends Error {
  override readonly name = 'AttackSetupError';
  readonly problem: AttackSetupProblem;
  readonly code: string;

  constructor(problem: AttackSetupProblem, detail?: string, options?: { cause?: unknown }) {
    super(detail === undefined ? MESSAGES[problem] : `${MESSAGES[problem]} (${detail})`, options);
    this.problem = problem;
    this.code = `ERR_IPSTAMP_ATTACK_${problem.toUpperCase().replace(/-/g, '_')}`;
  }
}
