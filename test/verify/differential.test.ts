import type { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { CompactSign, compactVerify, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeJsonSegment, splitCompact, stampDeclaresBodyDigest } from '../../server/jws/compact.js';
import { compileVerifierKey, type VerifierKey } from '../../server/verify/key-source.js';
import { verifySignature } from '../../server/jws/signature.js';
import type { StampAlg } from '../../shared/schema.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { webPlatform } from '../../server/verify/web-platform.js';
import { webCompactCodec } from '../../server/jws/web-bytes.js';
import type { WebKey } from '../../server/jws/web-crypto.js';

/**
 * The server verifies with node:crypto instead of jose (ten times faster for HMAC). This
 * proves the fast path accepts exactly the signatures jose accepts: random stamps made with
 * jose, randomly tampered, must get the same answer from both — and from ipstamp/web's
 * WebCrypto path (server/jws/web-crypto.ts, with its own byte codec), for every alg.
 */
const ALGS: StampAlg[] = ['HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'EdDSA', 'Ed25519'];
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

interface Fixture {
  pair: TestKeyPair;
  fast: VerifierKey<KeyObject>;
  web: VerifierKey<WebKey>;
  joseKey: Awaited<ReturnType<typeof importJWK>>;
  otherTokens: string[];
}
const fixtures = new Map<StampAlg, Fixture>();

async function signWithJose(pair: TestKeyPair, claims: object, headerExtra: object = {}): Promise<string> {
  const key = await importJWK(pair.privateJwk, pair.alg);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: pair.alg, typ: 'ipstamp+jwt', kid: pair.kid, ...headerExtra })
    .sign(key);
}

beforeAll(async () => {
  for (const alg of ALGS) {
    const pair = await makeKey(alg, `d-${alg}`);
    const otherPair = await makeKey(alg, `d-${alg}`);
    fixtures.set(alg, {
      pair,
      fast: compileVerifierKey(pair.publicJwk, 'test', nodePlatform),
      web: compileVerifierKey(pair.publicJwk, 'test', webPlatform),
      joseKey: await importJWK(pair.publicJwk, alg),
      otherTokens: [await signWithJose(otherPair, { ip: '192.0.2.1' }), await signWithJose(pair, { ip: '198.51.100.1' })],
    });
  }
});

function fastAccepts(f: Fixture, token: string): Uint8Array | false {
  const parts = splitCompact(token);
  if (!parts) return false;
  const header = decodeJsonSegment(parts.headerSegment);
  if (!header || header.alg !== f.fast.alg) return false;
  if (!verifySignature(f.fast.alg, f.fast.keyObject, parts.signingInput, parts.signature)) return false;
  return new Uint8Array(Buffer.from(parts.payloadSegment, 'base64url'));
}

async function webAccepts(f: Fixture, token: string): Promise<Uint8Array | false> {
  const parts = webCompactCodec.splitCompact(token);
  if (!parts) return false;
  const header = webCompactCodec.decodeJsonSegment(parts.headerSegment);
  if (!header || header.alg !== f.web.alg) return false;
  if (!(await webPlatform.crypto.verifySignature(f.web.alg, f.web.keyObject, parts.signingInput, parts.signature))) return false;
  return webCompactCodec.decodeBase64urlSegment(parts.payloadSegment) ?? false;
}

async function joseAccepts(f: Fixture, token: string): Promise<Uint8Array | false> {
  try {
    const { payload } = await compactVerify(token, f.joseKey, { algorithms: [f.fast.alg] });
    return payload;
  } catch {
    return false;
  }
}

type Tamper = (token: string, f: Fixture) => string;
const tamperings: fc.Arbitrary<Tamper> = fc.oneof(
  fc.constant<Tamper>((t) => t),
  fc.record({ at: fc.nat(), to: fc.nat(63) }).map(({ at, to }): Tamper => (t) => {
    const i = at % t.length;
    return t[i] === '.' ? t : t.slice(0, i) + ALPHABET[to] + t.slice(i + 1);
  }),
  fc.record({ seg: fc.nat(2), which: fc.nat(1) }).map(({ seg, which }): Tamper => (t, f) => {
    const parts = t.split('.');
    parts[seg] = f.otherTokens[which]!.split('.')[seg]!;
    return parts.join('.');
  }),
  fc.nat(8).map(
    (n): Tamper =>
      (t) =>
        t.slice(0, t.length - n),
  ),
  fc.constant<Tamper>((t) => {
    // flip the unused low bits of the last signature character: same bytes, other text
    const last = t.at(-1)!;
    return t.slice(0, -1) + ALPHABET[ALPHABET.indexOf(last) ^ 1];
  }),
  fc.constant<Tamper>((t, f) => {
    // ECDSA malleability: (r, s) → (r, n − s) is also valid for P-256
    if (f.fast.alg !== 'ES256') return t;
    const [h, p, s] = t.split('.');
    const sig = Buffer.from(s!, 'base64url');
    const sValue = BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const flipped = Buffer.from((P256_N - sValue).toString(16).padStart(64, '0'), 'hex');
    return `${h}.${p}.${Buffer.concat([sig.subarray(0, 32), flipped]).toString('base64url')}`;
  }),
);

describe('node:crypto fast path ≡ WebCrypto path ≡ jose compactVerify', () => {
  for (const alg of ALGS) {
    it(`${alg}: same verdict and same payload on random, randomly tampered stamps`, async () => {
      const f = fixtures.get(alg)!;
      await fc.assert(
        fc.asyncProperty(
          fc.record({ ip: fc.ipV4(), jti: fc.base64String({ minLength: 24, maxLength: 64 }), iat: fc.nat() }),
          tamperings,
          async (claims, tamper) => {
            const token = tamper(await signWithJose(f.pair, claims), f);
            const fast = fastAccepts(f, token);
            const jose = await joseAccepts(f, token);
            const web = await webAccepts(f, token);
            expect(fast === false).toBe(jose === false);
            expect(web === false).toBe(jose === false);
            if (fast && jose) expect(Buffer.from(fast).equals(Buffer.from(jose))).toBe(true);
            if (web && jose) expect(Buffer.from(web).equals(Buffer.from(jose))).toBe(true);
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});

describe('the cdg pre-check (glue deciding whether to read a body) reads the same on both codecs', () => {
  const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const headerValue = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }),
    // well-formed payloads with and without cdg, then cut, doubled or joined with a comma
    fc
      .tuple(
        fc.boolean(),
        fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
        fc.nat(80),
        fc.constantFrom('cut', 'whole', 'twice', 'comma'),
      )
      .map(([withCdg, extra, at, how]) => {
        const token = `${segment({ alg: 'HS256' })}.${segment({ ...extra, ...(withCdg ? { cdg: 'x' } : {}) })}.${segment('sig')}`;
        return how === 'cut' ? token.slice(0, at) : how === 'twice' ? [token, token] : how === 'comma' ? `${token}, ${token}` : token;
      }),
  );

  it('Node and web codecs agree on every value, and never throw', () => {
    fc.assert(
      fc.property(headerValue, (raw) => {
        const node = stampDeclaresBodyDigest(raw);
        expect(webCompactCodec.payloadDeclares(raw, 'cdg')).toBe(node);
        expect(typeof node).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('a readable single stamp answers exactly whether its payload has cdg', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }), (withCdg, extra) => {
        const claims = { ...extra, ...(withCdg ? { cdg: 'x' } : {}) };
        const token = `${segment({ alg: 'HS256' })}.${segment(claims)}.${segment('sig')}`;
        expect(webCompactCodec.payloadDeclares(token, 'cdg')).toBe(Object.hasOwn(claims, 'cdg'));
        expect(webCompactCodec.payloadDeclares([token, token], 'cdg')).toBe(false);
      }),
    );
  });
});
