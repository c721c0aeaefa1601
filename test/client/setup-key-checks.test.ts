import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, generateStampKey, type StampKey, type TicketFetchOptions } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * docs/client.md: "A wrong option throws a TypeError that names it when you call
 * createStampedFetch, not on the first request." What can be told of a key without importing
 * it is checked then; what only the import finds fails the first request with a TypeError too.
 */

let es256: TestKeyPair;
let ed25519: TestKeyPair;
let stampKey: StampKey;
let calls: number;
const fetch = () => {
  calls++;
  return Promise.resolve(new Response('ok'));
};
afterEach(() => {
  calls = 0;
});

beforeAll(async () => {
  es256 = await makeKey('ES256');
  ed25519 = await makeKey('EdDSA');
  stampKey = await generateStampKey({ alg: 'ES256' });
  calls = 0;
});

type TicketOptions = TicketFetchOptions<Response>;

/** `ip: 'ticket'` options the setup must refuse: a publicJwk with members missing, of another type than alg, or bodyDigest not a boolean. */
function badTicketOptions(): [string, TicketOptions][] {
  const ticket = (publicJwk: unknown, extra: Partial<TicketOptions> = {}): TicketOptions => ({
    ip: 'ticket',
    issuer: 'https://edge.example',
    key: { privateKey: stampKey.privateKey, publicJwk: publicJwk as never, alg: 'ES256' },
    fetch,
    ...extra,
  });
  const { x, y } = stampKey.publicJwk as { x: string; y: string };
  return [
    ['EC without x and y', ticket({ kty: 'EC', crv: 'P-256' })],
    ['EC without y', ticket({ kty: 'EC', crv: 'P-256', x })],
    ['x not a string', ticket({ kty: 'EC', crv: 'P-256', x: 7, y })],
    ['an Ed25519 key for ES256', ticket({ kty: 'OKP', crv: 'Ed25519', x })],
    ['a P-384 key for ES256', ticket({ kty: 'EC', crv: 'P-384', x, y })],
    ['an RSA key', ticket({ kty: 'RSA', n: x, e: 'AQAB' })],
    ['bodyDigest not a boolean', ticket(stampKey.publicJwk, { bodyDigest: 'yes' as never })],
  ];
}

describe("createStampedFetch({ ip: 'ticket' }) checks the key at setup", () => {
  it('a malformed or mismatched publicJwk (or a bad bodyDigest) throws a TypeError naming the option', () => {
    for (const [name, options] of badTicketOptions()) {
      let thrown: unknown;
      try {
        createStampedFetch(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(TypeError);
      expect((thrown as Error).message, name).toMatch(name.startsWith('bodyDigest') ? /^bodyDigest/ : /key\.publicJwk/);
    }
  });

  it('leaves no promise without a handler: no unhandled rejection, whatever the options', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      for (const [, options] of badTicketOptions()) {
        try {
          createStampedFetch(options);
        } catch {
          // the TypeError of the test above
        }
      }
      // a right key, never used
      createStampedFetch({ ip: 'ticket', issuer: 'https://edge.example', key: stampKey, fetch });
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      process.off('unhandledRejection', listener);
    }
    expect(unhandled).toEqual([]);
  });
});

describe('createStampedFetch checks a JWK key against its alg at setup', () => {
  const withoutD = (jwk: Record<string, unknown>) => Object.fromEntries(Object.entries(jwk).filter(([name]) => name !== 'd'));

  it('a public-only JWK, a P-256 key labelled ES384 or EdDSA, an Ed25519 key labelled ES256, an EC key labelled HS256: TypeError at setup', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['public-only EC', withoutD(es256.privateJwk), /key must be a private JWK \(it has no "d"\)/],
      ['public-only OKP', withoutD(ed25519.privateJwk), /key must be a private JWK/],
      ['P-256 as ES384', { ...es256.privateJwk, alg: 'ES384' }, /key\.alg ES384 needs an EC key on P-384/],
      ['P-256 as EdDSA', { ...es256.privateJwk, alg: 'EdDSA' }, /key\.alg EdDSA needs an OKP key on Ed25519/],
      ['Ed25519 as ES256', { ...ed25519.privateJwk, alg: 'ES256' }, /key\.alg ES256/],
      ['EC as HS256', { ...es256.privateJwk, alg: 'HS256' }, /key\.alg HS256 needs an oct key/],
      ['oct as ES256', { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'o', alg: 'ES256' }, /oct key must be HS/],
      ['d not a string', { ...es256.privateJwk, d: 1 }, /key must be a private EC JWK/],
    ];
    for (const [name, jwk, message] of cases) {
      expect(() => createStampedFetch({ key: jwk as never, ip: '192.0.2.1', fetch }), name).toThrow(TypeError);
      expect(() => createStampedFetch({ key: jwk as never, ip: '192.0.2.1', fetch }), name).toThrow(message);
    }
    expect(calls).toBe(0);
    // the right keys still pass setup and sign
    for (const key of [es256.privateJwk, ed25519.privateJwk, stampKey]) {
      const stampedFetch = createStampedFetch({ key, ip: '192.0.2.1', fetch });
      expect((await stampedFetch('https://api.example/x')).status).toBe(200);
    }
    expect(calls).toBe(3);
  });

  it('an HMAC secret under 32 bytes, or a "k" that is not base64url, is a TypeError at setup: every verifier refuses such a key at load (PROTOCOL §2.3)', async () => {
    const secret = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64url');
    const short = (bytes: number) => ({ kty: 'oct', k: secret(bytes), kid: 'h', alg: 'HS256' });
    for (const [name, key, message] of [
      ['31 bytes', short(31), 'key must be an HMAC secret of at least 32 bytes (every verifier refuses a shorter one)'],
      ['3 bytes', { ...short(3), alg: 'HS512' }, 'key must be an HMAC secret of at least 32 bytes (every verifier refuses a shorter one)'],
      ['padded', { ...short(32), k: `${secret(32)}=` }, 'key.k must be base64url'],
      ['base64, not base64url', { ...short(32), k: `${secret(32).slice(0, -2)}+/` }, 'key.k must be base64url'],
    ] as const) {
      expect(() => createStampedFetch({ key: key as never, ip: '192.0.2.1', fetch }), name).toThrow(new TypeError(message));
    }
    const hmac = (bytes: number) => crypto.subtle.importKey('raw', new Uint8Array(bytes), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const short31 = await hmac(31);
    expect(() => createStampedFetch({ key: { key: short31, kid: 'h', alg: 'HS256' }, ip: '192.0.2.1', fetch })).toThrow(
      new TypeError('key.key must be an HMAC secret of at least 32 bytes (every verifier refuses a shorter one)'),
    );
    expect(() => createStampedFetch({ key: { key: new Uint8Array(31), kid: 'h', alg: 'HS256' }, ip: '192.0.2.1', fetch })).toThrow(
      new TypeError('key.key must be an HMAC secret of at least 32 bytes (every verifier refuses a shorter one)'),
    );
    expect(calls).toBe(0);
    for (const key of [
      short(32),
      { key: await hmac(32), kid: 'h', alg: 'HS256' as const },
      { key: new Uint8Array(32).fill(1), kid: 'h', alg: 'HS256' as const },
    ]) {
      expect((await createStampedFetch({ key, ip: '192.0.2.1', fetch })('https://api.example/x')).status).toBe(200);
    }
    expect(calls).toBe(3);
  });

  it('what only the import finds (a point off the curve) fails the first request with a TypeError naming the key, the WebCrypto error as cause', async () => {
    const other = await makeKey('ES256');
    const offCurve = { ...es256.privateJwk, x: other.privateJwk.x }; // well-formed members, no point of P-256
    const stampedFetch = createStampedFetch({ key: offCurve, ip: '192.0.2.1', fetch });
    const error: unknown = await stampedFetch('https://api.example/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^key could not be imported as a ES256 private key/);
    expect((error as Error).cause).toBeDefined();
    expect(calls).toBe(0);
  });
});
