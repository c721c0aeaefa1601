import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { generateStampKey, type StampKey } from '../../client/browser-key.js';
import { deleteSavedStampKey, loadSavedStampKey, saveStampKey, StampKeyStoreError } from '../../client/key-store.js';
import type { StampKeyInput } from '../../client/signing-key.js';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof, ticketKid, type TicketKey } from '../../client/ticket-proof.js';
import { createKeyRegistry } from '../../server/registry/key-registry.js';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MapReplayStore } from '../support/map-store.js';

// The same code runs in the page (see browser-sdk.test.ts); here Node's WebCrypto stands in.
describe('generateStampKey (WebCrypto)', () => {
  it('is at once a StampKeyInput and a TicketKey (types)', () => {
    expectTypeOf<StampKey>().toExtend<StampKeyInput>();
    expectTypeOf<StampKey>().toExtend<TicketKey>();
  });

  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: a non-extractable private key, a public JWK of RFC 7638 members, kid = its thumbprint`, async () => {
      const key = await generateStampKey({ alg });
      expect(key.alg).toBe(alg);
      expect(key.privateKey.extractable).toBe(false);
      expect(key.privateKey.type).toBe('private');
      expect(key.key).toBe(key.privateKey);
      await expect(crypto.subtle.exportKey('jwk', key.privateKey)).rejects.toThrow();
      const members = alg === 'ES256' ? ['alg', 'crv', 'kid', 'kty', 'x', 'y'] : ['alg', 'crv', 'kid', 'kty', 'x'];
      expect(Object.keys(key.publicJwk).sort()).toEqual(members);
      expect(key.kid).toBe(await calculateJwkThumbprint(key.publicJwk as JWK, 'sha256'));
      expect(key.kid).toBe(await ticketKid(key.publicJwk));
      expect(Object.isFrozen(key)).toBe(true);
    });

    it(`${alg}: signs stamps that a verifier with the registered public key accepts`, async () => {
      const key = await generateStampKey({ alg });
      const registry = createKeyRegistry();
      expect(registry.registerKey(key.publicJwk).kid).toBe(key.kid);
      const token = await createStamper({ key, ip: '127.0.0.1' }).stamp({ method: 'GET', url: 'http://api.test/x' });
      const verifier = createVerifierCore({ keys: registry.lookup, replayStore: new MapReplayStore() });
      const result = await verifier.verify({
        method: 'GET',
        url: '/x',
        headers: { host: 'api.test', 'client-ip-attestation': token },
        hints: { l3: '127.0.0.1' },
      });
      expect(result).toMatchObject({ ok: true, verdict: { kid: key.kid, agreement: 'match' } });
    });

    it(`${alg}: works as a TicketKey: an issuer accepts its ticket request proof`, async () => {
      const key = await generateStampKey({ alg });
      const issuer = createTicketIssuer({
        key: await issuerJwk(),
        origin: 'https://edge.test',
        origins: ['https://edge.test'],
        replayStore: new MapReplayStore(),
      });
      const proof = await createTicketRequestProof(key, 'https://edge.test/.well-known/ipstamp/ticket');
      const result = await issuer.issue({
        method: 'POST',
        url: '/.well-known/ipstamp/ticket',
        protocol: 'https',
        headers: { host: 'edge.test', 'client-ip-attestation': proof },
        hints: { l3: '127.0.0.5' },
      });
      expect(result).toMatchObject({ ok: true, ip: '127.0.0.5' });
    });
  }

  it('defaults to ES256 and refuses other algs with a TypeError', async () => {
    expect((await generateStampKey()).alg).toBe('ES256');
    await expect(generateStampKey({ alg: 'HS256' as never })).rejects.toThrow(TypeError);
    await expect(generateStampKey({ alg: 'ES384' as never })).rejects.toThrow(TypeError);
    await expect(generateStampKey(null as never)).rejects.toThrow(TypeError);
  });
});

async function issuerJwk(): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: 'edge-1', alg: 'ES256' };
}

describe('saveStampKey / loadSavedStampKey outside a browser', () => {
  it('without IndexedDB (Node) they fail with a typed error, not a crash', async () => {
    const key = await generateStampKey();
    for (const attempt of [saveStampKey('k', key), loadSavedStampKey('k'), deleteSavedStampKey('k')]) {
      await expect(attempt).rejects.toMatchObject({ name: 'StampKeyStoreError', code: 'ERR_IPSTAMP_KEY_STORE', detail: 'unavailable' });
    }
    await expect(loadSavedStampKey('k')).rejects.toBeInstanceOf(StampKeyStoreError);
  });

  it('check their arguments first: a TypeError for a bad name or a key that is not a StampKey', async () => {
    const key = await generateStampKey();
    await expect(saveStampKey('', key)).rejects.toThrow(TypeError);
    await expect(loadSavedStampKey(7 as never)).rejects.toThrow(TypeError);
    await expect(saveStampKey('k', { kid: 'x' } as never)).rejects.toThrow(TypeError);
    await expect(saveStampKey('k', key, { database: '' })).rejects.toThrow(TypeError);
  });
});
