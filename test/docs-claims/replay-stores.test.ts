import { describe, expect, it } from 'vitest';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { makeKey } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * docs/replay-stores.md: the verifier passes the store `(iat + maxAge + 2·skew + 1 s) − now`,
 * "with the defaults that is at most 46 s", the window of exposure after a Redis loss is "at
 * most maxAge + 3·skew + 1, 46 s", and sizing counts (maxAge + 2·skew + 1) s per stamp signed
 * now, up to (maxAge + 3·skew + 1) s for one signed skew ahead. The TTL a store is handed, with
 * the default maxAge 30 and skew 5.
 */
const NOW_MS = 1_764_000_000_000;

async function ttlHandedToStore(iatOffsetS: number): Promise<{ outcome: string; ttls: number[] }> {
  const key = await makeKey('ES256', 'docs-ttl');
  const ttls: number[] = [];
  const store: ReplayStore = {
    insertIfAbsent(_key: string, ttlMs: number) {
      ttls.push(ttlMs);
      return true;
    },
  };
  const { verify } = createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: store, now: () => NOW_MS });
  const token = signRaw(
    key.privateJwk,
    { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'docs-ttl' },
    { ip: '192.0.2.7', iat: NOW_MS / 1000 + iatOffsetS, jti: `docs-ttl-jti-${iatOffsetS + 100}-0000000000`, htm: 'GET', htu: 'http://api.example.com/orders' },
  );
  const result = await verify({
    method: 'GET',
    url: '/orders',
    headers: { host: 'api.example.com', 'client-ip-attestation': token },
    hints: { l3: '192.0.2.7' },
  });
  return { outcome: result.ok ? 'accepted' : result.reason, ttls };
}

describe('docs/replay-stores.md: the TTL of a used stamp, with the defaults', () => {
  it('41 s for a stamp signed now (maxAge + 2·skew + 1)', async () => {
    expect(await ttlHandedToStore(0)).toEqual({ outcome: 'accepted', ttls: [41_000] });
  });

  it('46 s, the most, for a stamp signed skew ahead (maxAge + 3·skew + 1)', async () => {
    expect(await ttlHandedToStore(5)).toEqual({ outcome: 'accepted', ttls: [46_000] });
  });

  it('a stamp signed further ahead is refused before the store is asked: 46 s is the bound', async () => {
    expect(await ttlHandedToStore(6)).toEqual({ outcome: 'not-yet-valid', ttls: [] });
  });
});
