import { expect } from 'vitest';
import type { ConformanceRun, ConformanceVector } from './vector-format.js';

/** Compares what an implementation answered with what the vector says the spec requires. */
export function assertConforms(vector: ConformanceVector, run: ConformanceRun): void {
  const { expect: want } = vector;
  const { outcome } = run;
  if (!want.ok) {
    expect(outcome.ok ? 'accepted' : { reason: outcome.reason, status: outcome.status }).toEqual({ reason: want.reason, status: want.status });
  } else if ('verdict' in want) {
    expect(outcome).toEqual({ ok: true, verdict: null });
  } else if ('ticket' in want) {
    throw new Error(`${vector.id}: a ticket is expected from an issuer, not a verifier`);
  } else {
    expect(outcome.ok ? 'accepted' : `refused ${outcome.reason}`).toBe('accepted');
    if (!outcome.ok || outcome.verdict === null) throw new Error('expected a verdict');
    const v = outcome.verdict;
    const got: Record<string, unknown> = {
      source: v.source,
      ip: v.ip,
      agreement: v.agreement,
      kid: v.kid,
      jti: v.jti,
      iat: v.iat,
      observed: v.observed ?? null,
      issuer: v.issuer,
    };
    const wanted: Record<string, unknown> = {
      source: want.source,
      ip: want.ip,
      agreement: want.agreement,
      kid: want.kid,
      jti: want.jti,
      iat: want.iat,
      observed: want.observed,
      issuer: want.issuer,
    };
    if ('l4' in want) {
      got.l4 = v.l4 ?? null;
      wanted.l4 = want.l4;
    }
    if (want.replayChecked !== undefined) {
      got.replayChecked = v.replayChecked;
      wanted.replayChecked = want.replayChecked;
    }
    expect(got).toEqual(wanted);
  }
  for (const pair of want.ok && ('verdict' in want || 'ticket' in want) ? [] : (want.remembers ?? [])) {
    const held = run.remembered.filter((r) => r.kid === pair.kid && r.jti === pair.jti);
    expect(held.length, `(${pair.kid}, ${pair.jti}) remembered`).toBeGreaterThan(0);
    if (pair.untilAtLeast !== undefined) {
      expect(Math.max(...held.map((r) => r.untilMs)), `(${pair.kid}, ${pair.jti}) held until`).toBeGreaterThanOrEqual(pair.untilAtLeast * 1000);
    }
  }
}
