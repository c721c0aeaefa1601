import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateStampKey } from '../../client/browser-key.js';
import { loadSavedStampKey, saveStampKey, StampKeyStoreError } from '../../client/key-store.js';

/**
 * `loadSavedStampKey` gives back only what `saveStampKey` would have written: a record holding
 * an extractable private key, or a private key that is not the one of its `publicJwk` (written
 * by another script on the origin, or an older build), is `corrupt`. A minimal in-memory
 * IndexedDB stands in for the browser's (records are kept as they are, as structured clone
 * keeps a CryptoKey).
 */

type Request = { result?: unknown; error?: unknown; onsuccess?: () => void; onerror?: () => void };

function memoryIndexedDb(data: Map<string, unknown>) {
  const request = (run: () => unknown): Request => {
    const r: Request = {};
    queueMicrotask(() => {
      try {
        r.result = run();
        r.onsuccess?.();
      } catch (error) {
        r.error = error;
        r.onerror?.();
      }
    });
    return r;
  };
  const db = {
    objectStoreNames: { contains: () => true },
    close() {},
    transaction() {
      const transaction: { oncomplete?: () => void; objectStore: () => unknown } = {
        objectStore: () => ({
          get: (name: string) => request(() => data.get(name)),
          put: (value: unknown, name: string) => request(() => data.set(name, value)),
          delete: (name: string) => request(() => data.delete(name)),
        }),
      };
      setTimeout(() => transaction.oncomplete?.(), 0);
      return transaction;
    },
  };
  return { open: () => request(() => db) };
}

let data: Map<string, unknown>;
beforeEach(() => {
  data = new Map();
  vi.stubGlobal('indexedDB', memoryIndexedDb(data));
});
afterEach(() => {
  vi.unstubAllGlobals();
});

async function publicMembersOf(publicKey: CryptoKey): Promise<JsonWebKey> {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  return kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x };
}

describe('loadSavedStampKey refuses what saveStampKey would not write', () => {
  it('an extractable private key is corrupt (the reader never hands out key material)', async () => {
    for (const params of [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'Ed25519' }]) {
      const pair = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
      data.set('api', { v: 1, privateKey: pair.privateKey, publicJwk: await publicMembersOf(pair.publicKey) });
      const error: unknown = await loadSavedStampKey('api').catch((e: unknown) => e);
      expect(error, params.name).toBeInstanceOf(StampKeyStoreError);
      expect(error, params.name).toMatchObject({ code: 'ERR_IPSTAMP_KEY_STORE', detail: 'corrupt' });
    }
  });

  it("a private key that is not its publicJwk's own is corrupt; a saved key loads as it was", async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const saved = await generateStampKey({ alg });
      const other = await generateStampKey({ alg });
      await saveStampKey('right', saved);
      const loaded = await loadSavedStampKey('right');
      expect(loaded?.kid).toBe(saved.kid);
      expect(loaded?.privateKey.extractable).toBe(false);

      data.set('mixed', { v: 1, privateKey: other.privateKey, publicJwk: (data.get('right') as { publicJwk: JsonWebKey }).publicJwk });
      await expect(loadSavedStampKey('mixed'), alg).rejects.toMatchObject({ name: 'StampKeyStoreError', detail: 'corrupt' });
    }
  });
});
