import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TICKET_ALGS } from '../../shared/constants.js';
import { misusedKeyProblem, privateMemberOf } from '../../shared/public-jwk.js';
import { compileIssuerKeys } from '../../server/verify/issuer-key-set.js';
import { compileVerifierKey } from '../../server/verify/key-source.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

/**
 * An issuer's fetched JWK Set is whatever its URL answered: any member of any shape. Reading it
 * never throws, and a key is used only if it passes every rule; every other member is named.
 */
const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const privateEd = ed.privateKey.export({ format: 'jwk' });
const publicEd = ed.publicKey.export({ format: 'jwk' });
const publicEc = ec.publicKey.export({ format: 'jwk' });

/** A near-valid key: a real public key, then members taken away, changed or added. */
const nearValidKey = fc
  .record({
    base: fc.constantFrom<Record<string, unknown>>({ ...publicEd, alg: 'EdDSA' }, { ...publicEc, alg: 'ES256' }, { ...privateEd, alg: 'EdDSA' }),
    kid: fc.option(fc.constantFrom('a', 'b', 'c', '', 'x'.repeat(129), 7), { nil: undefined }),
    alg: fc.option(fc.constantFrom('EdDSA', 'ES256', 'Ed25519', 'HS256', 'ES384', 'none', null), { nil: undefined }),
    use: fc.option(fc.constantFrom('sig', 'enc', 1), { nil: undefined }),
    keyOps: fc.option(fc.constantFrom(['verify'], ['sign'], ['verify', 'verify'], 'verify'), { nil: undefined }),
    drop: fc.subarray(['kty', 'crv', 'x', 'y', 'alg', 'kid']),
  })
  .map(({ base, kid, alg, use, keyOps, drop }) => {
    const jwk: Record<string, unknown> = { ...base, kid: 'a' };
    if (kid !== undefined) jwk.kid = kid;
    if (alg !== undefined) jwk.alg = alg;
    if (use !== undefined) jwk.use = use;
    if (keyOps !== undefined) jwk.key_ops = keyOps;
    for (const member of drop) delete jwk[member];
    return jwk;
  });

const member = fc.oneof(nearValidKey, nearValidKey, fc.jsonValue());

/** The rules written out: an object, no private member, a ticket alg, and what an inline key must pass. */
function passesEveryRule(k: unknown): k is Record<string, unknown> {
  if (typeof k !== 'object' || k === null || Array.isArray(k) || privateMemberOf(k) !== undefined) return false;
  if (!(TICKET_ALGS as readonly unknown[]).includes((k as { alg?: unknown }).alg)) return false;
  try {
    compileVerifierKey(k as Record<string, unknown>, 'k', nodePlatform);
    return true;
  } catch {
    return false;
  }
}

describe('compileIssuerKeys: a fetched issuer set of any shape', () => {
  it('never throws; a key is used only if it passes every rule and no other usable key has its kid, and every other member is named', () => {
    fc.assert(
      fc.property(fc.array(member, { maxLength: 8 }), (keys) => {
        const fetched = compileIssuerKeys({ keys }, nodePlatform);
        for (const [kid, key] of fetched.keys) {
          const usable = keys.filter((k): k is Record<string, unknown> => passesEveryRule(k) && k.kid === kid);
          expect(usable).toHaveLength(1);
          const [source] = usable as [Record<string, unknown>];
          expect(key.alg).toBe(source.alg);
          expect(misusedKeyProblem(source, 'verify')).toBeUndefined();
        }
        // and every usable key whose kid no other usable key shares is used
        const usableKids = keys.filter(passesEveryRule).map((k) => k.kid as string);
        const unique = usableKids.filter((kid) => usableKids.indexOf(kid) === usableKids.lastIndexOf(kid));
        expect([...fetched.keys.keys()].sort()).toEqual(unique.sort());
        // every member not used is named once, but the first of a kid named twice (only its later twin is)
        const used = fetched.keys.size;
        expect(fetched.leftOut.length).toBeLessThanOrEqual(keys.length - used);
        const refusedOutright = keys.filter(
          (k) =>
            typeof k !== 'object' ||
            k === null ||
            Array.isArray(k) ||
            privateMemberOf(k) !== undefined ||
            !(TICKET_ALGS as readonly unknown[]).includes((k as { alg?: unknown }).alg),
        );
        expect(fetched.leftOut.length).toBeGreaterThanOrEqual(refusedOutright.length);
      }),
      { numRuns: 1500 },
    );
  });

  it('a set that is no JWK Set at all gives no key and names nothing (the fetch itself is refused by its shape)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (jwks) => {
        fc.pre(!Array.isArray((jwks as { keys?: unknown } | null)?.keys));
        expect(compileIssuerKeys(jwks, nodePlatform)).toEqual({ keys: new Map(), leftOut: [] });
      }),
    );
  });
});
