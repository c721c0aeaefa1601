import { describe, expect, it } from 'vitest';
import { replayTtlMs } from '../../server/verify/claim-rules.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { makeKey } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * PROTOCOL §5 step 10: the pair is remembered until at least iat + maxAge + 2·skew, and step 8
 * is inclusive (now − iat = maxAge + skew is fresh). A store that drops a key at the exact
 * instant its TTL runs out (Redis PX does) must still hold it at that boundary instant of the
 * slowest peer: claim-rules.ts adds one second for it. Nothing pinned that second down.
 */
const rules = { maxAge: 30, skew: 5 };

describe('the replay TTL reaches past the last instant any peer finds the stamp fresh', () => {
  it.each([
    [1_764_000_000, 1_764_000_000_000],
    [1_764_000_000, 1_764_000_004_999], // iat in the future by up to skew
    [1_764_000_000, 1_763_999_995_000],
    [1_764_000_000, 1_764_000_034_000],
  ])('iat %i, now %i ms', (iat, nowMs) => {
    const lastFreshForSlowestPeerMs = (iat + rules.maxAge + 2 * rules.skew) * 1000;
    expect(nowMs + replayTtlMs(iat, nowMs, rules)).toBeGreaterThan(lastFreshForSlowestPeerMs);
  });

  it('a store with exact expiry: the peer skew behind never accepts the replay, at its boundary instant included', async () => {
    const key = await makeKey('ES256', 'ttl-es');
    const T0 = 1_764_000_000_000;
    let trueNow = T0;
    const expiries = new Map<string, number>();
    // forgets a key at exactly insertedAt + ttlMs, as a store counting in ms may
    const store: ReplayStore = {
      insertIfAbsent(k: string, ttlMs: number) {
        const until = expiries.get(k);
        if (until !== undefined && trueNow < until) return false;
        expiries.set(k, trueNow + ttlMs);
        return true;
      },
    };
    const verifier = (offsetMs: number) => createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: store, now: () => trueNow + offsetMs, ...rules });
    const inserting = verifier(0);
    const slow = verifier(-rules.skew * 1000);
    const token = signRaw(
      key.privateJwk,
      { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'ttl-es' },
      { ip: '192.0.2.7', iat: T0 / 1000, jti: 'ttl-margin-jti-00000000001', htm: 'GET', htu: 'http://api.example.com/orders' },
    );
    const input = { method: 'GET', url: '/orders', headers: { host: 'api.example.com', 'client-ip-attestation': token }, hints: { l3: '192.0.2.7' } };

    expect((await inserting.verify(input)).ok).toBe(true);
    // the slow peer's clock reads T0 + maxAge + skew: still fresh there (inclusive)
    trueNow = T0 + (rules.maxAge + 2 * rules.skew) * 1000;
    const replay = await slow.verify(input);
    expect(replay.ok ? 'accepted' : replay.reason).toBe('replay');
  });
});
