import { createECDH } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyRegistry, KeyRegistryFullError } from '../../server/registry/key-registry.js';

/**
 * docs/browser.md, "Registering browser keys on the server": the defaults of
 * createKeyRegistry a user who passes no options gets — 10,000 live keys, one day each.
 */
/**
 * A fresh public P-256 JWK from a raw ECDH key pair. Not generateKeyPairSync + export: 10,001
 * of those in one loop deadlocked Node 20.20's worker twice (a KeyGenJob freed by a collection
 * that a JWK export started, locking a mutex its own thread held), which hung the whole run.
 */
function p256PublicJwk(): JsonWebKey {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys(); // 0x04, then x and y
  return { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
}

describe('docs/browser.md: createKeyRegistry() defaults', () => {
  it('holds 10,000 live keys and refuses the 10,001st; each is kept one day (86,400 s)', () => {
    const clock = 1_764_000_000_000;
    const registry = createKeyRegistry({ now: () => clock });
    let expiresAt = 0;
    for (let i = 0; i < 10_000; i++) expiresAt = registry.registerKey(p256PublicJwk()).expiresAt;
    expect(registry.size).toBe(10_000);
    expect(expiresAt - clock).toBe(86_400_000);
    expect(() => registry.registerKey(p256PublicJwk())).toThrow(KeyRegistryFullError);
    expect(registry.size).toBe(10_000);
  });
});
