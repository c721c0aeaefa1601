import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { createKeyRegistry, type KeyRegistry, isKeyRegistryFullError, KeyRegistryFullError } from '../../server/registry/key-registry.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MapReplayStore } from '../support/map-store.js';

interface ClientPair {
  privateJwk: JWK;
  publicJwk: JWK;
  kid: string;
  alg: 'ES256' | 'EdDSA';
}

async function clientPair(alg: 'ES256' | 'EdDSA'): Promise<ClientPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  const publicJwk = await exportJWK(publicKey);
  return { privateJwk: await exportJWK(privateKey), publicJwk, kid: await calculateJwkThumbprint(publicJwk, 'sha256'), alg };
}

/** Signs as the browser would (kid = thumbprint) and verifies with `keys: registry.lookup`. */
async function verifyWith(registry: KeyRegistry, pair: ClientPair, ip = '127.0.0.1', now = Date.now) {
  const stamper = createStamper({ key: { ...pair.privateJwk, kid: pair.kid, alg: pair.alg }, ip, now });
  const token = await stamper.stamp({ method: 'GET', url: 'http://api.test/orders' });
  const verifier = createVerifierCore({ keys: registry.lookup, replayStore: new MapReplayStore(), now });
  return verifier.verify({ method: 'GET', url: '/orders', headers: { host: 'api.test', 'client-ip-attestation': token }, hints: { l3: '127.0.0.1' } });
}

let es: ClientPair;
let ed: ClientPair;
let es2: ClientPair;
let es3: ClientPair;
beforeAll(async () => {
  [es, ed, es2, es3] = await Promise.all([clientPair('ES256'), clientPair('EdDSA'), clientPair('ES256'), clientPair('ES256')]);
});

describe('createKeyRegistry: registering browser keys for the verifier', () => {
  it('registers public P-256 and Ed25519 JWKs under their RFC 7638 thumbprint; stamps verify with keys: registry.lookup', async () => {
    const registry = createKeyRegistry();
    for (const pair of [es, ed]) {
      const registered = registry.registerKey(pair.publicJwk);
      expect(registered).toMatchObject({ kid: pair.kid, alg: pair.alg });
      const result = await verifyWith(registry, pair);
      expect(result).toMatchObject({ ok: true, verdict: { kid: pair.kid, ip: '127.0.0.1', agreement: 'match' } });
    }
    expect(registry.size).toBe(2);
  });

  it('accepts a kid equal to the thumbprint, refuses any other kid', () => {
    const registry = createKeyRegistry();
    expect(registry.registerKey({ ...es.publicJwk, kid: es.kid }).kid).toBe(es.kid);
    expect(() => registry.registerKey({ ...es2.publicJwk, kid: 'alice' })).toThrow(TypeError);
    expect(registry.lookup('alice')).toBeUndefined();
  });

  it('an Ed25519 key registered with alg Ed25519 keeps it; an alg that does not fit the curve is refused', () => {
    const registry = createKeyRegistry();
    expect(registry.registerKey({ ...ed.publicJwk, alg: 'Ed25519' }).alg).toBe('Ed25519');
    expect(() => registry.registerKey({ ...es.publicJwk, alg: 'EdDSA' })).toThrow(TypeError);
    expect(() => registry.registerKey({ ...es.publicJwk, alg: 'HS256' })).toThrow(TypeError);
    // the curve decides: a P-256 key can sign ECDSA over SHA-384, an Ed25519 key cannot sign ES256
    expect(() => registry.registerKey({ ...es.publicJwk, alg: 'ES384' })).toThrow(new TypeError('jwk: alg does not fit the key'));
    expect(() => registry.registerKey({ ...ed.publicJwk, alg: 'ES256' })).toThrow(new TypeError('jwk: alg does not fit the key'));
    expect(registry.size).toBe(1);
  });

  it('refuses private keys, oct secrets and every other key type with a TypeError that does not echo the key', async () => {
    const registry = createKeyRegistry();
    const { privateKey: p384 } = await generateKeyPair('ES384', { extractable: true });
    const { publicKey: rsa } = await generateKeyPair('RS256', { extractable: true });
    const refused: unknown[] = [
      es.privateJwk,
      { ...es.publicJwk, d: 'AAAA' },
      { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', alg: 'HS256' },
      { ...es.publicJwk, k: 'x' },
      await exportJWK(p384),
      await exportJWK(rsa),
      { ...es.publicJwk, use: 'enc' },
      { ...es.publicJwk, key_ops: ['encrypt'] },
      { ...es.publicJwk, key_ops: 'verify' },
      { ...es.publicJwk, x: es.publicJwk.y, y: es.publicJwk.x }, // not a point on P-256
      { kty: 'EC', crv: 'P-256', x: 'short', y: 'short' },
      null,
      'eyJrdHkiOiJFQyJ9',
      [es.publicJwk],
      42,
    ];
    for (const jwk of refused) {
      let error: unknown;
      try {
        registry.registerKey(jwk);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(jwk)).toBeInstanceOf(TypeError);
      expect((error as Error).message).not.toContain(String(es.publicJwk.x));
    }
    expect(registry.size).toBe(0);
    // a private key sent by mistake is told so, not merely "not a public key of the right kind"
    for (const jwk of [es.privateJwk, { ...es.publicJwk, k: 'x' }]) {
      expect(() => registry.registerKey(jwk)).toThrow(new TypeError('jwk: must be a public key (private and oct keys are refused)'));
    }
  });

  it('keeps only the RFC 7638 members: what else the client sent is not stored', () => {
    const registry = createKeyRegistry();
    const { kid } = registry.registerKey({ ...es.publicJwk, use: 'sig', key_ops: ['verify'], ext: true, note: 'x'.repeat(10_000) });
    const key = registry.lookup(kid)!;
    expect(Object.keys(key).sort()).toEqual(['alg', 'key', 'kid']);
    expect(registry.lookup(kid)).toBe(key); // the same object each time: the verifier imports it once
  });

  it('allowedIps: an attested ip outside them is ip-not-allowed; a bad CIDR is refused at registration', async () => {
    const registry = createKeyRegistry();
    registry.registerKey(es.publicJwk, { allowedIps: ['10.0.0.0/8'] });
    expect(await verifyWith(registry, es)).toMatchObject({ ok: false, reason: 'ip-not-allowed', status: 403 });
    registry.registerKey(es.publicJwk, { allowedIps: ['127.0.0.0/8'] }); // registering again replaces them
    expect(await verifyWith(registry, es)).toMatchObject({ ok: true });
    expect(() => registry.registerKey(es2.publicJwk, { allowedIps: ['10.0.0.0/33'] })).toThrow(TypeError);
    expect(() => registry.registerKey(es2.publicJwk, { allowedIps: '10.0.0.0/8' as never })).toThrow(TypeError);
    expect(() => registry.registerKey(es2.publicJwk, { allowedIps: [42] as never })).toThrow(new TypeError('allowedIps must be an array of CIDR strings'));
    expect(registry.lookup(es2.kid)).toBeUndefined();
  });

  it('forgets a key after its ttl (seconds): lookups then miss and stamps are unknown-key', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const registry = createKeyRegistry({ now, defaultTtl: 60 });
    const { expiresAt } = registry.registerKey(es.publicJwk);
    registry.registerKey(ed.publicJwk, { ttl: 3600 });
    expect(expiresAt).toBe(1_000_000 + 60_000);
    clock += 59_999;
    expect(registry.lookup(es.kid)).toBeDefined();
    clock += 1;
    expect(registry.lookup(es.kid)).toBeUndefined();
    expect(registry.size).toBe(1); // swept on lookup
    expect(await verifyWith(registry, es, '127.0.0.1', now)).toMatchObject({ ok: false, reason: 'unknown-key' });
    expect(await verifyWith(registry, ed, '127.0.0.1', now)).toMatchObject({ ok: true });
  });

  it('registering the same key again restarts its ttl', () => {
    let clock = 0;
    const registry = createKeyRegistry({ now: () => clock, defaultTtl: 10 });
    registry.registerKey(es.publicJwk);
    clock = 9_000;
    registry.registerKey(es.publicJwk);
    clock = 15_000;
    expect(registry.lookup(es.kid)).toBeDefined();
    clock = 19_000;
    expect(registry.lookup(es.kid)).toBeUndefined();
  });

  it('when full of live keys it refuses (KeyRegistryFullError) instead of forgetting one; expired keys make room', () => {
    let clock = 0;
    const registry = createKeyRegistry({ maxKeys: 2, now: () => clock });
    registry.registerKey(es.publicJwk, { ttl: 10 });
    registry.registerKey(ed.publicJwk, { ttl: 100 });
    let error: unknown;
    try {
      registry.registerKey(es2.publicJwk);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyRegistryFullError);
    expect(isKeyRegistryFullError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_IPSTAMP_REGISTRY_FULL' });
    expect(registry.lookup(es.kid)).toBeDefined(); // nobody was pushed out
    expect(registry.registerKey(ed.publicJwk).kid).toBe(ed.kid); // a key already held can be renewed
    clock = 10_000;
    expect(registry.registerKey(es2.publicJwk).kid).toBe(es2.kid);
    expect(registry.size).toBe(2);
    expect(() => registry.registerKey(es3.publicJwk)).toThrow(KeyRegistryFullError);
  });

  it('unregisterKey forgets at once', async () => {
    const registry = createKeyRegistry();
    registry.registerKey(es.publicJwk);
    expect(registry.unregisterKey(es.kid)).toBe(true);
    expect(registry.unregisterKey(es.kid)).toBe(false);
    expect(await verifyWith(registry, es)).toMatchObject({ ok: false, reason: 'unknown-key' });
  });

  it('checks its options: a wrong one is a TypeError naming it', () => {
    expect(() => createKeyRegistry({ maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => createKeyRegistry({ maxKeys: 1.5 })).toThrow(/maxKeys/);
    expect(() => createKeyRegistry({ defaultTtl: -1 })).toThrow(/defaultTtl/);
    expect(() => createKeyRegistry({ now: 5 as never })).toThrow(/now/);
    expect(() => createKeyRegistry(null as never)).toThrow(TypeError);
    const registry = createKeyRegistry();
    expect(() => registry.registerKey(es.publicJwk, { ttl: 0 })).toThrow(/ttl/);
    expect(() => registry.registerKey(es.publicJwk, { ttl: 365 * 86_400 + 1 })).toThrow(/ttl/);
    expect(() => createKeyRegistry({ maxKey: 5 } as never)).toThrow(new TypeError('unknown option "maxKey" (did you mean "maxKeys"?)'));
    expect(() => registry.registerKey(es.publicJwk, { allowedIp: ['10.0.0.0/8'] } as never)).toThrow(
      new TypeError('unknown option "allowedIp" (did you mean "allowedIps"?)'),
    );
    expect(() => registry.registerKey(es.publicJwk, { ttl: Number.NaN })).toThrow(/ttl/);
  });
});
