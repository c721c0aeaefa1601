import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../server/index.js';
import { createWebVerifier } from '../../server/web/index.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';
import { stampedGet } from '../support/stamped-get.js';

/**
 * PROTOCOL §2.3: "A key that does not fit its alg (a short secret, a P-384 key named ES256, …)
 * is refused when the keys are loaded, never at request time" — by the Node verifier
 * (server/jws/node-crypto.ts) and the web one (server/jws/web-crypto.ts) alike, with the same
 * TypeError. Mutation testing found each check below could be dropped with the suite green.
 */
const PLATFORMS = [
  ['node', createVerifier],
  ['web', createWebVerifier],
] as const;
type Make = (typeof PLATFORMS)[number][1];

const setup = (make: Make, key: Record<string, unknown>) => () => make({ keys: { keys: [{ kid: 'k', ...key }] } as never, replayStore: new MapReplayStore() });
const refused = (what: string) => new TypeError(`keys.keys[0]: ${what}`);

const secretOf = (bytes: number) => Buffer.alloc(bytes, 0x5a).toString('base64url');
const hmacCryptoKey = (bytes: number, hash = 'SHA-256') =>
  crypto.subtle.importKey('raw', new Uint8Array(bytes).fill(3), { name: 'HMAC', hash }, false, ['verify']);
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p256Jwk = p256.publicKey.export({ format: 'jwk' }) as { kty: 'EC'; crv: 'P-256'; x: string; y: string };
const ed25519Jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { kty: 'OKP'; crv: 'Ed25519'; x: string };

describe.each(PLATFORMS)('%s: an HMAC JWK is refused at setup unless it is an oct key of at least 32 bytes', (_, make) => {
  it('a secret of 31 bytes is refused, one of 32 is taken (k of 42 and 43 characters)', () => {
    expect(secretOf(31)).toHaveLength(42);
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      expect(setup(make, { kty: 'oct', k: secretOf(31), alg }), alg).toThrow(refused('HMAC secret must be at least 32 bytes'));
      expect(setup(make, { kty: 'oct', k: secretOf(32), alg }), alg).not.toThrow();
    }
  });

  it.each([['absent'], ['EC'], ['OKP'], ['RSA']])('kty %s beside a "k" is refused', (kty) => {
    const key = kty === 'absent' ? { k: secretOf(32), alg: 'HS256' } : { kty, k: secretOf(32), alg: 'HS256' };
    expect(setup(make, key)).toThrow(refused('HS256 needs an oct key with "k"'));
  });

  it.each([
    ['base64 "+" and "/"', `${secretOf(32).slice(0, 41)}+/`],
    ['padding', `${secretOf(33)}=`],
    ['a space', `${secretOf(32)} `],
    ['a dot', `${secretOf(32)}.AAAA`],
  ])('a "k" with %s is refused, not decoded leniently', (_what, k) => {
    expect(setup(make, { kty: 'oct', k, alg: 'HS256' })).toThrow(refused('"k" is not base64url'));
  });

  it.each([['ES256'], ['ES384'], ['EdDSA'], ['Ed25519']])('an oct key named %s is refused by name', (alg) => {
    expect(setup(make, { kty: 'oct', k: secretOf(32), alg })).toThrow(refused(`${alg} needs an EC or OKP key`));
  });
});

describe.each(PLATFORMS)('%s: a public JWK WebCrypto or OpenSSL would refuse is refused at setup, not at the first stamp', (_, make) => {
  it.each([
    ['x one character short', { ...p256Jwk, x: p256Jwk.x.slice(1) }, 'ES256'],
    ['y one character short', { ...p256Jwk, y: p256Jwk.y.slice(1) }, 'ES256'],
    ['y one character long', { ...p256Jwk, y: `${p256Jwk.y}A` }, 'ES256'],
    ['no y', { kty: 'EC', crv: 'P-256', x: p256Jwk.x }, 'ES256'],
    ['an Ed25519 x one character short', { ...ed25519Jwk, x: ed25519Jwk.x.slice(1) }, 'EdDSA'],
    ['kty EC with crv Ed25519', { kty: 'EC', crv: 'Ed25519', x: ed25519Jwk.x, y: ed25519Jwk.x }, 'EdDSA'],
    ['kty OKP with crv P-256', { kty: 'OKP', crv: 'P-256', x: p256Jwk.x }, 'ES256'],
  ])('%s', (_what, jwk, alg) => {
    expect(setup(make, { ...jwk, alg })).toThrow(refused('is not a valid public JWK'));
  });
});

describe.each(PLATFORMS)('%s: public JWK coordinates are base64url, read strictly (RFC 7518 §6.2.1.2, §6.3.1.1: unpadded base64url)', (_, make) => {
  /** A fresh key whose coordinate has a "-" or "_", so its base64 spelling differs from it. */
  function keyWithDashOrUnderscore<K extends Record<string, string>>(make: () => K, member: keyof K): K {
    for (;;) {
      const jwk = make();
      if (/[-_]/.test(jwk[member]!)) return jwk;
    }
  }
  const ec = keyWithDashOrUnderscore(() => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as typeof p256Jwk, 'y');
  const ed = keyWithDashOrUnderscore(() => generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as typeof ed25519Jwk, 'x');
  const base64 = (text: string) => text.replace(/-/g, '+').replace(/_/g, '/');

  it.each([
    ['an EC y in base64 ("+", "/")', { ...ec, y: base64(ec.y) }, 'ES256'],
    ['an EC y padded', { ...ec, y: `${ec.y}=` }, 'ES256'],
    ['an EC y with a space inside', { ...ec, y: `${ec.y.slice(0, 20)} ${ec.y.slice(20)}` }, 'ES256'],
    ['an Ed25519 x in base64', { ...ed, x: base64(ed.x) }, 'EdDSA'],
    ['an Ed25519 x padded', { ...ed, x: `${ed.x}=` }, 'EdDSA'],
  ])('%s is refused, not decoded leniently into the same key', (_what, jwk, alg) => {
    expect(setup(make, { ...jwk, alg })).toThrow(refused('is not a valid public JWK'));
    expect(setup(make, { ...(alg === 'ES256' ? ec : ed), alg })).not.toThrow();
  });
});

describe('an EC point off its curve (well-formed members): Node refuses it at setup, the web verifies nothing with it', () => {
  const offCurve = { ...p256Jwk, x: p256Jwk.y, y: p256Jwk.x, alg: 'ES256' };
  const NOW_S = 1_767_225_600;
  it('node: a TypeError naming the key', () => {
    expect(setup(createVerifier, offCurve)).toThrow(refused('is not a valid public JWK'));
  });

  it('web: every stamp under it is bad-signature, and the refused import is no unhandled rejection', async () => {
    const verifier = createWebVerifier({ keys: { keys: [{ ...offCurve, kid: 'k' }] }, replayStore: new MapReplayStore(), now: () => NOW_S * 1000 });
    const stamp = signRaw(
      { ...(p256.privateKey.export({ format: 'jwk' }) as Record<string, unknown>), alg: 'ES256' },
      { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'k' },
      { ip: '192.0.2.7', iat: NOW_S, jti: 'off-curve-000000000000000', htm: 'GET', htu: 'https://api.example.com/a' },
    );
    expect(await verifier.verifyInput(stampedGet(stamp))).toMatchObject({ ok: false, reason: 'bad-signature' });
  });
});

describe('{ key } must be the platform key type: anything else is refused at setup, not used at the first request', () => {
  const impostors: [string, unknown][] = [
    ['a PEM string', generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' })],
    ['a Buffer', Buffer.alloc(32, 1)],
    ['an object shaped like a secret KeyObject', { type: 'secret', symmetricKeySize: 64 }],
    ['an object shaped like an Ed25519 KeyObject', { type: 'public', asymmetricKeyType: 'ed25519', asymmetricKeyDetails: {} }],
  ];

  it.each(impostors)('node: %s', (_, key) => {
    for (const alg of ['HS256', 'EdDSA']) expect(setup(createVerifier, { key, alg }), alg).toThrow(refused('key must be a KeyObject or CryptoKey'));
  });

  it.each([...impostors, ['a KeyObject', createSecretKey(Buffer.alloc(32, 1))] as [string, unknown]])('web: %s', (_, key) => {
    for (const alg of ['HS256', 'EdDSA']) expect(setup(createWebVerifier, { key, alg }), alg).toThrow(refused('key must be a CryptoKey'));
  });
});

describe('a key object that does not fit its alg is refused at setup, by name', () => {
  it('node: a KeyObject secret of 31 bytes, a public key for HMAC, a secret for ES256', () => {
    expect(setup(createVerifier, { key: createSecretKey(Buffer.alloc(31, 1)), alg: 'HS256' })).toThrow(refused('HMAC secret must be at least 32 bytes'));
    expect(setup(createVerifier, { key: createSecretKey(Buffer.alloc(32, 1)), alg: 'HS256' })).not.toThrow();
    expect(setup(createVerifier, { key: p256.publicKey, alg: 'HS256' })).toThrow(refused('HS256 needs a secret key'));
    expect(setup(createVerifier, { key: createSecretKey(Buffer.alloc(32, 1)), alg: 'ES256' })).toThrow(refused('ES256 needs a public key'));
  });

  it.each(PLATFORMS)('%s: an HMAC CryptoKey under 32 bytes is refused (its length is in bits), one of 32 taken', async (_, make) => {
    for (const bytes of [16, 31])
      expect(setup(make, { key: await hmacCryptoKey(bytes), alg: 'HS256' }), `${bytes}`).toThrow(refused('HMAC secret must be at least 32 bytes'));
    expect(setup(make, { key: await hmacCryptoKey(32), alg: 'HS256' })).not.toThrow();
  });

  it.each(PLATFORMS)('%s: an HMAC CryptoKey bound to another hash than the alg names (the same answer on Node and on the web)', async (_, make) => {
    for (const [hash, alg] of [
      ['SHA-512', 'HS256'],
      ['SHA-256', 'HS512'],
      ['SHA-384', 'HS256'],
    ] as const) {
      expect(setup(make, { key: await hmacCryptoKey(64, hash), alg }), `${hash} as ${alg}`).toThrow(refused(`key does not fit alg ${alg}`));
    }
    for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
      expect(setup(make, { key: await hmacCryptoKey(64, `SHA-${alg.slice(2)}`), alg }), alg).not.toThrow();
    }
  });

  it.each(PLATFORMS)('%s: an ECDSA or Ed25519 CryptoKey of another curve than the alg pins', async (_, make) => {
    const publicKey = async (algorithm: EcKeyGenParams | Algorithm) =>
      ((await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair).publicKey;
    const p384 = await publicKey({ name: 'ECDSA', namedCurve: 'P-384' });
    const p256Key = await publicKey({ name: 'ECDSA', namedCurve: 'P-256' });
    const ed = await publicKey({ name: 'Ed25519' });
    for (const [key, alg] of [
      [p384, 'ES256'],
      [p256Key, 'ES384'],
      [p256Key, 'EdDSA'],
      [ed, 'ES256'],
    ] as const) {
      expect(setup(make, { key, alg }), alg).toThrow(refused(`key does not fit alg ${alg}`));
    }
    for (const [key, alg] of [
      [p384, 'ES384'],
      [p256Key, 'ES256'],
      [ed, 'EdDSA'],
      [ed, 'Ed25519'],
    ] as const) {
      expect(setup(make, { key, alg }), alg).not.toThrow();
    }
    expect(setup(make, { key: await hmacCryptoKey(32), alg: 'ES256' })).toThrow(refused('ES256 needs a public key'));
    expect(setup(make, { key: ed, alg: 'HS256' })).toThrow(refused('HS256 needs a secret key'));
  });
});

describe('a private key is refused at setup in every form it can be given: whoever holds it can sign the stamps it checks', () => {
  const privateOf = (pair: { privateKey: { export(o: { format: 'jwk' }): object } }) => pair.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const ed = generateKeyPairSync('ed25519');

  it.each(PLATFORMS)('%s: a private P-256 or Ed25519 JWK, named by its "d"; its public half is taken', (_, make) => {
    for (const [jwk, alg] of [
      [privateOf(p256), 'ES256'],
      [privateOf(ed), 'EdDSA'],
    ] as const) {
      expect(setup(make, { ...jwk, alg }), alg).toThrow(refused('is a private key (it has "d"); the verifier needs only the public half'));
      const { d: _d, ...publicHalf } = jwk;
      expect(setup(make, { ...publicHalf, alg }), alg).not.toThrow();
    }
  });

  it('node: a private KeyObject, with the way to its public half; the public KeyObject is taken', () => {
    expect(setup(createVerifier, { key: p256.privateKey, alg: 'ES256' })).toThrow(
      refused('is a private key; the verifier needs only the public half (createPublicKey(key))'),
    );
    expect(setup(createVerifier, { key: ed.privateKey, alg: 'EdDSA' })).toThrow(
      refused('is a private key; the verifier needs only the public half (createPublicKey(key))'),
    );
    expect(setup(createVerifier, { key: p256.publicKey, alg: 'ES256' })).not.toThrow();
  });

  it.each(PLATFORMS)('%s: an issuer set given inline with the private key in it', (_, make) => {
    const issuers = { 'https://edge.example.com': { keys: [{ ...privateOf(ed), kid: 'edge-1', alg: 'EdDSA' }] } };
    expect(() => make({ keys: { keys: [] }, issuers, replayStore: new MapReplayStore() } as never)).toThrow(
      new TypeError('issuers["https://edge.example.com"].keys[0]: is a private key (it has "d"); the verifier needs only the public half'),
    );
  });
});
