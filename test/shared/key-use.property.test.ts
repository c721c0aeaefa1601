import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { misusedKeyProblem } from '../../shared/public-jwk.js';

/**
 * `misusedKeyProblem` reads members a JWK's sender controls (`use`, `key_ops`): any JSON value,
 * sparse arrays, huge ones. Against a plain reading of RFC 7517 §4.2–4.3, written out here: a
 * key is fit for an operation when `use` is absent or "sig", and `key_ops` is absent or an array
 * of distinct strings naming the operation. Anything else is a fixed text, never the key.
 */
const OPS = ['sign', 'verify', 'encrypt', 'decrypt', 'wrapKey', 'unwrapKey', 'deriveKey', 'deriveBits', 'Sign', 'verify '];
const opValue = fc.oneof(
  fc.constantFrom(...OPS),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.object({ maxDepth: 1 }),
);
const keyOps = fc.oneof(
  fc.constant(undefined),
  fc.array(opValue, { maxLength: 6 }),
  fc.array(fc.constantFrom(...OPS), { maxLength: 6 }),
  fc.sparseArray(fc.constantFrom(...OPS), { maxLength: 6 }),
  fc.constantFrom('sign', 'verify', null, 0, {}),
);
const use = fc.oneof(fc.constant(undefined), fc.constantFrom('sig', 'enc', 'SIG', 'sig ', '', null, 0, ['sig']), fc.string({ maxLength: 5 }));

function fitFor(jwk: { use?: unknown; key_ops?: unknown }, operation: string): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops === undefined) return true;
  if (!Array.isArray(jwk.key_ops)) return false;
  const values = Array.from({ length: jwk.key_ops.length }, (_, i) => (jwk.key_ops as unknown[])[i]);
  return values.every((v) => typeof v === 'string') && new Set(values).size === values.length && values.includes(operation);
}

describe('misusedKeyProblem (property)', () => {
  it('refuses exactly the keys RFC 7517 §4.2–4.3 rules out, with one of its fixed texts', () => {
    const texts = [
      'use must be "sig" when present (this key is marked for something else)',
      'key_ops must be an array of distinct strings',
      'key_ops must include "sign" when present',
      'key_ops must include "verify" when present',
    ];
    fc.assert(
      fc.property(use, keyOps, fc.constantFrom('sign' as const, 'verify' as const), fc.string({ maxLength: 20 }), (u, ops, operation, x) => {
        const jwk: Record<string, unknown> = { kty: 'OKP', crv: 'Ed25519', x };
        if (u !== undefined) jwk.use = u;
        if (ops !== undefined) jwk.key_ops = ops;
        const problem = misusedKeyProblem(jwk, operation);
        expect(problem === undefined, JSON.stringify(jwk)).toBe(fitFor(jwk, operation));
        if (problem !== undefined) expect(texts).toContain(problem);
      }),
      { numRuns: 2000 },
    );
  });

  it('a key_ops of a million entries is answered, and the answer does not depend on where "verify" stands', () => {
    const many = Array.from({ length: 1_000_000 }, (_, i) => `op${i}`);
    expect(misusedKeyProblem({ key_ops: [...many, 'verify'] }, 'verify')).toBeUndefined();
    expect(misusedKeyProblem({ key_ops: ['verify', ...many] }, 'verify')).toBeUndefined();
    expect(misusedKeyProblem({ key_ops: [...many, 'op0', 'verify'] }, 'verify')).toBe('key_ops must be an array of distinct strings');
  });
});
