import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../shared/reasons.js';
import { durationAttributes, ERROR_DURATION_ATTRIBUTES, outcomeAttributes, storeOutcomeAttributes } from '../../server/telemetry/outcome-attributes.js';
import type { VerifyResult } from '../../server/verify/types.js';

/**
 * The attribute sets are built once and shared (server/telemetry/outcome-attributes.ts): each
 * must be exactly the object the plain path would build for that result, written out here
 * with the exported names spelled as dashboards key on them, and must not be changeable by
 * whoever receives it (an SDK, a view).
 */
const hints = { l3: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l3' } as unknown as VerifyResult['hints'];

const rejected = fc.constantFrom(...REASONS).map((reason) => ({ ok: false, reason, status: 401, error: new Error(reason), hints }) as unknown as VerifyResult);
const accepted = fc
  .record({
    agreement: fc.constantFrom('match' as const, 'mismatch' as const, 'unverifiable' as const),
    source: fc.constantFrom('stamp' as const, 'ticket' as const),
    replayChecked: fc.boolean(),
  })
  .map((v) => ({ ok: true, verdict: { ...v, ip: '192.0.2.7', kid: 'k', alg: 'HS256', jti: 'j'.repeat(22), iat: 1, hints }, hints }) as unknown as VerifyResult);
const unstamped = fc.constant({ ok: true, verdict: null, hints } as unknown as VerifyResult);

function plainOutcomeAttributes(result: VerifyResult): Record<string, unknown> {
  if (!result.ok) return { 'ipstamp.outcome': 'rejected', 'ipstamp.reason': result.reason };
  if (result.verdict === null) return { 'ipstamp.outcome': 'unstamped' };
  const { agreement, replayChecked, source } = result.verdict;
  return { 'ipstamp.outcome': 'accepted', 'ipstamp.agreement': agreement, 'ipstamp.replay_checked': replayChecked, 'ipstamp.source': source };
}

describe('outcome attribute sets', () => {
  it('equal, key for key, what the plain path builds for every result; the duration carries the outcome alone', () => {
    fc.assert(
      fc.property(fc.oneof(rejected, accepted, unstamped), (result) => {
        const plain = plainOutcomeAttributes(result);
        expect(outcomeAttributes(result)).toStrictEqual(plain);
        expect(durationAttributes(result)).toStrictEqual({ 'ipstamp.outcome': plain['ipstamp.outcome'] });
      }),
    );
    expect(ERROR_DURATION_ATTRIBUTES).toStrictEqual({ 'ipstamp.outcome': 'error' });
    for (const outcome of ['inserted', 'replay', 'full', 'error'] as const) {
      expect(storeOutcomeAttributes(outcome)).toStrictEqual({ 'ipstamp.replay_store.outcome': outcome });
    }
  });

  it('are built once: the same frozen object for the same outcome, so a receiver cannot change what the next request records', () => {
    fc.assert(
      fc.property(fc.oneof(rejected, accepted, unstamped), (result) => {
        const set = outcomeAttributes(result);
        expect(outcomeAttributes(structuredClone({ ...result, error: undefined }) as VerifyResult)).toBe(set);
        expect(Object.isFrozen(set)).toBe(true);
        expect(Object.isFrozen(durationAttributes(result))).toBe(true);
        // a module is strict code: writing to a frozen object throws
        expect(() => {
          (set as Record<string, unknown>)['ipstamp.outcome'] = 'forged';
        }).toThrow(TypeError);
      }),
    );
    expect(Object.isFrozen(storeOutcomeAttributes('replay'))).toBe(true);
  });
});
