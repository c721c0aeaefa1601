import type { StampClaims } from '../../shared/schema.js';

/**
 * The claim and time rules of PROTOCOL.md §2.2 and §5 steps 6–8 that the schema alone cannot
 * state, and step 10's TTL — one home, shared by the verifier, the ticket issuer and
 * `ipstamp inspect`, so an explanation always uses the verifier's own arithmetic.
 */

export interface TimeRules {
  readonly maxAge: number;
  readonly skew: number;
}

/** Step 6 beyond the schema: `exp` inside (iat, iat + maxAge]; `tth` only beside a ticket. */
export function claimsBreakRules(claims: Pick<StampClaims, 'iat' | 'exp' | 'tth'>, maxAge: number, withTicket = false): boolean {
  if (claims.exp !== undefined && (claims.exp <= claims.iat || claims.exp > claims.iat + maxAge)) return true;
  return claims.tth !== undefined && !withTicket;
}

export type FreshnessFailure = 'not-yet-valid' | 'expired';

/**
 * Steps 7–8 at `nowMs`: issued no later than now + skew; not older than maxAge + skew; `exp ≥ now − skew` (PROTOCOL §5 step 8, inclusive).
 * Each test is written as what must hold, negated: a clock that gives no number (NaN) fails it, where `iat > NaN` would pass.
 */
export function freshnessFailure(claims: Pick<StampClaims, 'iat' | 'exp'>, nowMs: number, rules: TimeRules): FreshnessFailure | undefined {
  const now = nowMs / 1000;
  if (!(claims.iat <= now + rules.skew)) return 'not-yet-valid';
  if (!(now - claims.iat <= rules.maxAge + rules.skew) || (claims.exp !== undefined && !(claims.exp >= now - rules.skew))) return 'expired';
  return undefined;
}

/**
 * Step 10's TTL: until `iat + maxAge + 2·skew` by this clock (PROTOCOL §5 step 10) — the last
 * instant any verifier whose clock runs up to `skew` behind this one could still pass step 8,
 * so instances sharing a store cannot replay into each other's window. One second more for the
 * inclusive boundary and stores that count whole seconds.
 */
export function replayTtlMs(iat: number, nowMs: number, rules: TimeRules): number {
  return Math.max(1000, Math.ceil((iat + rules.maxAge + 2 * rules.skew + 1) * 1000 - nowMs));
}
