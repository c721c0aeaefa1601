import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyRegistry, KeyRegistryFullError } from '../../server/registry/key-registry.js';

/**
 * docs/browser.md, "Registering browser keys on the server": the defaults of
 * createKeyRegistry a user who passes no options gets — 10,000 live keys, one day each.
 */
function ed25519PublicJwk(): JsonWebKey {
  return generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
}

describe('docs/browser.md: createKeyRegistry() defaults', () => {
  it('holds 10,000 live keys and refuses the 10,001st; each is kept one day (86,400 s)', () => {
    const clock = 1_764_000_000_000;
    const registry = createKeyRegistry({ now: () => clock });
    let expiresAt = 0;
    for (let i = 0; i < 10_000; i++) expiresAt = registry.registerKey(ed25519PublicJwk()).expiresAt;
    expect(registry.size).toBe(10_000);
    expect(expiresAt - clock).toBe(86_400_000);
    expect(() => registry.registerKey(ed25519PublicJwk())).toThrow(KeyRegistryFullError);
    expect(registry.size).toBe(10_000);
  });
});
