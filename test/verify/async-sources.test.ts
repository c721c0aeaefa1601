import { beforeAll, describe, expect, it } from 'vitest';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifyResult } from '../../server/verify/types.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * The verifier waits only for answers that are promises (a value is used as it is, without a
 * trip through the microtask queue). Whatever shape the key source and the store answer in —
 * a value, a promise, a foreign thenable, a rejection — the verdict is the same.
 */
const NOW = 1_764_000_000_000;
let hs: TestKeyPair;
beforeAll(async () => {
  hs = await makeKey('HS256', 'h1');
});

let n = 0;
const stamp = () =>
  signRaw(
    hs.privateJwk,
    { alg: 'HS256', typ: 'ipstamp+jwt', kid: 'h1' },
    {
      ip: '192.0.2.7',
      iat: NOW / 1000,
      jti: `async-${String(++n).padStart(20, '0')}`,
      htm: 'GET',
      htu: 'https://api.example.com/a',
    },
  );

function verifier(opts: Partial<VerifierOptions>) {
  const v = createVerifierCore({ keys: { keys: [hs.publicJwk] }, replayStore: new MapReplayStore(), now: () => NOW, ...opts });
  return (token: string) =>
    v.verify({ method: 'GET', url: '/a', protocol: 'https', headers: { host: 'api.example.com', 'client-ip-attestation': token }, hints: { l3: '192.0.2.7' } });
}
const reason = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);

/** A thenable that is not a native promise, as some database clients return. */
const thenable = <T>(value: T) => ({ then: (resolve: (v: T) => void) => setTimeout(() => resolve(value), 1) });

describe('key sources answering in any shape', () => {
  it.each([
    ['a key', () => hs.publicJwk, 'accepted'],
    ['a promise of a key', async () => hs.publicJwk, 'accepted'],
    ['nothing', () => undefined, 'unknown-key'],
    ['a promise of nothing', async () => null, 'unknown-key'],
    ['a rejected promise', () => Promise.reject(new Error('db down')), 'unknown-key'],
  ])('%s → %s', async (_, keys, expected) => {
    expect(reason(await verifier({ keys: keys as VerifierOptions['keys'] })(stamp()))).toBe(expected);
  });
});

describe('replay stores answering in any shape', () => {
  const stores: [string, (seen: Set<string>) => ReplayStore, string][] = [
    ['a boolean', (seen) => ({ insertIfAbsent: (k) => !seen.has(k) && !!seen.add(k) }), 'replay'],
    ['a promise', (seen) => ({ insertIfAbsent: async (k) => !seen.has(k) && !!seen.add(k) }), 'replay'],
    ['a foreign thenable', (seen) => ({ insertIfAbsent: (k) => thenable(!seen.has(k) && !!seen.add(k)) as unknown as Promise<boolean> }), 'replay'],
    ['a rejection', () => ({ insertIfAbsent: () => Promise.reject(new Error('down')) }), 'store-unavailable'],
    [
      'a throw',
      () => ({
        insertIfAbsent: () => {
          throw new Error('down');
        },
      }),
      'store-unavailable',
    ],
  ];
  it.each(stores)('%s: first use is decided by the store, the second is %s', async (_, make, second) => {
    const verify = verifier({ replayStore: make(new Set()) });
    const token = stamp();
    const first = await verify(token);
    expect(reason(first)).toBe(second === 'replay' ? 'accepted' : 'store-unavailable');
    expect(reason(await verify(token))).toBe(second);
  });

  it('onStoreError accept lets a stamp through unchecked when the store rejects, and says so', async () => {
    const r = await verifier({ replayStore: { insertIfAbsent: () => Promise.reject(new Error('down')) }, onStoreError: 'accept' })(stamp());
    expect(r.ok && r.verdict?.replayChecked).toBe(false);
  });

  it('verify always returns a promise, even when every answer was synchronous', () => {
    const result = verifier({})(stamp());
    expect(result).toBeInstanceOf(Promise);
  });
});
