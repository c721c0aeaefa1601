import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeyRegistry, KeyRegistryFullError, parseRegistryKey } from '../../server/registry/key-registry.js';

/**
 * Review 36, F4: a full registry swept all its keys on every refused registration (~1 ms at
 * the default 10,000 keys, 4.6 ms at 100,000), whether or not any could have expired. It now
 * tracks the earliest expiry and sweeps only once that has passed. Sweeps are counted — each is
 * one iteration of the registry's Map, the only Map of that size here — never timed.
 */

/** Distinct Ed25519 public keys: random x values, kept when they decode to a usable point. */
function ed25519Keys(count: number): { kty: 'OKP'; crv: 'Ed25519'; x: string }[] {
  const keys: { kty: 'OKP'; crv: 'Ed25519'; x: string }[] = [];
  while (keys.length < count) {
    const jwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: randomBytes(32).toString('base64url') };
    try {
      parseRegistryKey(jwk);
      keys.push(jwk);
    } catch {
      // not a point on the curve (about half of them), or one of small order
    }
  }
  return keys;
}

const iterate = Map.prototype[Symbol.iterator];
afterEach(() => {
  Map.prototype[Symbol.iterator] = iterate;
});

/** Counts iterations of Maps holding at least `size` entries from now on. */
function countPassesOverMaps(size: number): { readonly passes: number } {
  const counter = { passes: 0 };
  Map.prototype[Symbol.iterator] = function (this: Map<unknown, unknown>) {
    if (this.size >= size) counter.passes++;
    return iterate.call(this);
  } as typeof iterate;
  return counter;
}

describe('a full key registry', () => {
  it('refuses without a sweep while every key is live; sweeps once when the earliest expires, then not until the next does', () => {
    const maxKeys = 500;
    const keys = ed25519Keys(maxKeys + 3);
    let clock = 1_000_000;
    const registry = createKeyRegistry({ maxKeys, now: () => clock });
    registry.registerKey(keys[0], { ttl: 10 });
    for (let i = 1; i < maxKeys; i++) registry.registerKey(keys[i], { ttl: 1000 + i });
    const counter = countPassesOverMaps(maxKeys);

    for (let i = 0; i < 1000; i++) expect(() => registry.registerKey(keys[maxKeys]!)).toThrow(KeyRegistryFullError);
    expect(counter.passes).toBe(0);

    clock += 10_000; // keys[0] expires
    expect(registry.registerKey(keys[maxKeys]!, { ttl: 5000 }).kid).toBeDefined();
    expect(counter.passes).toBe(1);
    expect(registry.size).toBe(maxKeys);
    for (let i = 0; i < 1000; i++) expect(() => registry.registerKey(keys[maxKeys + 1]!)).toThrow(KeyRegistryFullError);
    expect(counter.passes).toBe(1); // the earliest expiry is now keys[1]'s, 1001 s after the start

    clock += 991_000; // keys[1] expires (1001 s after the start), keys[2] not yet
    expect(registry.registerKey(keys[maxKeys + 1]!).kid).toBeDefined();
    expect(counter.passes).toBe(2);
    expect(() => registry.registerKey(keys[maxKeys + 2]!)).toThrow(KeyRegistryFullError);
    expect(counter.passes).toBe(2);
  });
});

type Op =
  { kind: 'register'; key: number; ttl: number } | { kind: 'unregister'; key: number } | { kind: 'lookup'; key: number } | { kind: 'advance'; ms: number };

describe('the key registry against a model (property)', () => {
  it('refuses exactly when maxKeys other keys are live, whatever the order of registrations, renewals, removals and expiries', () => {
    const pool = ed25519Keys(8);
    const kids = pool.map((jwk) => parseRegistryKey(jwk).kid);
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('register' as const), key: fc.nat(7), ttl: fc.integer({ min: 1, max: 5 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('unregister' as const), key: fc.nat(7) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('lookup' as const), key: fc.nat(7) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.integer({ min: 1, max: 5 }), (ops, maxKeys) => {
        let clock = 0;
        const registry = createKeyRegistry({ maxKeys, now: () => clock });
        const expiresAt = new Map<number, number>();
        const live = (key: number) => (expiresAt.get(key) ?? -Infinity) > clock;
        for (const step of ops) {
          if (step.kind === 'advance') clock += step.ms;
          else if (step.kind === 'unregister') {
            registry.unregisterKey(kids[step.key]!);
            expiresAt.delete(step.key);
          } else if (step.kind === 'lookup') {
            expect(registry.lookup(kids[step.key]!) !== undefined).toBe(live(step.key));
          } else {
            const others = [...expiresAt.keys()].filter((key) => key !== step.key && live(key)).length;
            let refused = false;
            try {
              registry.registerKey(pool[step.key], { ttl: step.ttl });
            } catch (error) {
              expect(error).toBeInstanceOf(KeyRegistryFullError);
              refused = true;
            }
            expect(refused).toBe(others >= maxKeys);
            if (!refused) expiresAt.set(step.key, clock + step.ttl * 1000);
          }
          expect(registry.size).toBeLessThanOrEqual(maxKeys);
        }
      }),
      { numRuns: 300 },
    );
  });
});
