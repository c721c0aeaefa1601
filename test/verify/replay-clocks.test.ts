import { describe, expect, it } from 'vitest';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { ReplayStoreFullError } from '../../server/stores/replay-store.js';
import { makeKey } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * Regression (issue 12 item 4, PROTOCOL §5 step 10): instances sharing one store whose clocks
 * differ by up to `skew` each way. The store expires keys by its own (true) clock; a stamp must
 * be remembered until the slowest verifier stops finding it fresh: `iat + maxAge + 2·skew`.
 */
describe('one replay store, verifiers with offset clocks', () => {
  it('the slow instance never accepts a replay after the fast one recorded the stamp', async () => {
    const key = await makeKey('ES256', 'clock-es');
    let trueNow = 1_764_000_000_000;
    const store = new MemoryReplayStore({ now: () => trueNow });
    const verifier = (offsetMs: number) =>
      createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: store, now: () => trueNow + offsetMs, maxAge: 30, skew: 5 });
    const fast = verifier(+1500);
    const slow = verifier(-1500);
    const token = signRaw(
      key.privateJwk,
      { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'clock-es' },
      {
        ip: '192.0.2.7',
        iat: Math.floor(trueNow / 1000),
        jti: 'offset-clocks-jti-000000001',
        htm: 'GET',
        htu: 'http://api.example.com/orders',
      },
    );
    const input = { method: 'GET', url: '/orders', headers: { host: 'api.example.com', 'client-ip-attestation': token }, hints: { l3: '192.0.2.7' } };

    const first = await fast.verify(input);
    expect(first.ok).toBe(true);
    // walk the true clock second by second for as long as the slow instance finds the stamp fresh
    let replaysSeen = 0;
    for (let second = 1; second <= 45; second++) {
      trueNow += 1000;
      const r = await slow.verify(input);
      if (r.ok) throw new Error(`replay accepted by the slow instance ${second} s after first use`);
      if (r.reason === 'replay') replaysSeen++;
      else expect(r.reason).toBe('expired');
    }
    // it was a replay while fresh (iat + maxAge + skew by the slow clock = 36.5 s of true time), expired after
    expect(replaysSeen).toBe(36);
  });

  it('a full store refuses with store-unavailable, marked full, even when outages are accepted', async () => {
    const key = await makeKey('ES256', 'full-es');
    const full = {
      insertIfAbsent: () => {
        throw new ReplayStoreFullError();
      },
    };
    const v = createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: full, onStoreError: 'accept', now: () => 1_764_000_000_000 });
    const token = signRaw(
      key.privateJwk,
      { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'full-es' },
      {
        ip: '192.0.2.7',
        iat: 1_764_000_000,
        jti: 'full-store-jti-00000000001',
        htm: 'GET',
        htu: 'http://api.example.com/orders',
      },
    );
    const r = await v.verify({
      method: 'GET',
      url: '/orders',
      headers: { host: 'api.example.com', 'client-ip-attestation': token },
      hints: { l3: '192.0.2.7' },
    });
    expect(r).toMatchObject({ ok: false, reason: 'store-unavailable', status: 503, store: 'full' });
    // a store of another package that only sets the code is recognised too
    const foreign = {
      insertIfAbsent: () => {
        throw Object.assign(new Error('no room'), { code: 'ERR_IPSTAMP_STORE_FULL' });
      },
    };
    const v2 = createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: foreign, onStoreError: 'accept', now: () => 1_764_000_000_000 });
    const r2 = await v2.verify({
      method: 'GET',
      url: '/orders',
      headers: { host: 'api.example.com', 'client-ip-attestation': token },
      hints: { l3: '192.0.2.7' },
    });
    expect(r2).toMatchObject({ ok: false, reason: 'store-unavailable', store: 'full' });
  });
});
