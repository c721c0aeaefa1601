import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { privateMemberOf, publicJwkOf } from '../../shared/public-jwk.js';
import { thumbprintInput, type ClientPublicJwk } from '../../shared/ticket-schema.js';

const privateJwk = (type: 'ec' | 'ed25519', namedCurve = 'P-256'): Record<string, unknown> =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve }) : generateKeyPairSync('ed25519')).privateKey.export({ format: 'jwk' }) as Record<string, unknown>;

const KEYS = { p256: privateJwk('ec'), p384: privateJwk('ec', 'P-384'), ed25519: privateJwk('ed25519') };
const EXTRA = fc.dictionary(fc.constantFrom('kid', 'alg', 'use', 'ext', 'key_ops', 'allowed_ips', 'k', 'n', 'e'), fc.jsonValue());

describe('publicJwkOf', () => {
  it('keeps exactly the RFC 7638 members, in lexicographic order, whatever else a key carries', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(KEYS)), EXTRA, (key, extra) => {
        const input = { ...extra, ...key };
        const members = publicJwkOf(input)!;
        const expected = key.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x'];
        expect(Object.keys(members)).toEqual(expected);
        for (const name of expected) expect(members[name as keyof typeof members]).toBe(key[name]);
        expect(JSON.stringify(members)).not.toContain(String(key.d));
      }),
      { numRuns: 200 },
    );
  });

  it('gives the thumbprint input jose hashes (ticket keys: P-256 and Ed25519)', async () => {
    for (const key of [KEYS.p256, KEYS.ed25519]) {
      const members = publicJwkOf(key)!;
      expect(thumbprintInput(members as ClientPublicJwk)).toBe(JSON.stringify(members));
      expect(createHash('sha256').update(JSON.stringify(members)).digest('base64url')).toBe(await calculateJwkThumbprint(key as JWK, 'sha256'));
    }
  });

  it("returns a new object: the caller's key is neither kept nor changed", () => {
    const key = { ...KEYS.ed25519, kid: 'a' };
    const members = publicJwkOf(key)!;
    expect(members).not.toBe(key);
    expect(key).toHaveProperty('d');
    expect(key.kid).toBe('a');
  });

  it('undefined for anything that is not an EC or OKP key with string members', () => {
    const { x, y } = KEYS.p256 as { x: string; y: string };
    for (const bad of [
      {},
      { kty: 'oct', k: 'AAAA' },
      { kty: 'RSA', n: 'AQAB', e: 'AQAB' },
      { kty: 'EC', crv: 'P-256', x },
      { kty: 'EC', crv: 'P-256', x, y: 1 },
      { kty: 'OKP', x },
      { kty: 'OKP', crv: 'Ed25519', x: null },
      { kty: 'ec', crv: 'P-256', x, y },
    ]) {
      expect(publicJwkOf(bad)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        if (typeof value !== 'object' || value === null) return;
        const members = publicJwkOf(value);
        if (members !== undefined) expect(['EC', 'OKP']).toContain(members.kty);
      }),
      { numRuns: 300 },
    );
  });
});

describe('privateMemberOf', () => {
  it('names the first private member a key has of its own: EC and OKP "d", and every RSA one', () => {
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth']) expect(privateMemberOf({ kty: 'RSA', n: 'AQAB', e: 'AQAB', [member]: 'AQAB' })).toBe(member);
    expect(privateMemberOf(KEYS.ed25519)).toBe('d');
    expect(privateMemberOf(KEYS.p256)).toBe('d');
  });

  it('undefined for a public key, an oct key (a verifier holds HMAC secrets), and members it only inherits', () => {
    expect(privateMemberOf(publicJwkOf(KEYS.p256)!)).toBeUndefined();
    expect(privateMemberOf({ kty: 'oct', k: 'c2VjcmV0' })).toBeUndefined();
    expect(privateMemberOf(Object.create({ d: 'AQAB' }) as object)).toBeUndefined();
  });
});
