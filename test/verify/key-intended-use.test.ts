import { describe, expect, it } from 'vitest';
import type { JWK } from 'jose';
import { createStamper } from '../../client/index.js';
import { createStampedFetch } from '../../client/index.node.js';
import { createIssuerKeys, createVerifier } from '../../server/index.js';
import { createWebVerifier } from '../../server/web/index.js';
import type { StampAlg } from '../../shared/schema.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * RFC 7517 §4.2–4.3: `use` and `key_ops` say what a key's owner meant it for. A key marked for
 * something else neither verifies nor signs stamps, on either side and on either verifier
 * platform; a key marked for both signing and verifying (as some tools write private JWKs)
 * signs.
 */

const ALGS: StampAlg[] = ['HS256', 'ES256', 'EdDSA'];
const URL_ = 'https://api.example.com/orders';

type Check = (token: string) => Promise<string>;
const outcome = (result: { ok: true } | { ok: false; reason: string }): string => (result.ok ? 'accepted' : result.reason);

/** A verifier on each platform holding `keys`, as a function from a token to its outcome. */
const verifiers: Record<'node' | 'web', (keys: JWK[]) => Check> = {
  node: (keys) => {
    const verifier = createVerifier({ keys: { keys: keys as never }, replayStore: new MapReplayStore() });
    return async (token) =>
      outcome(
        await verifier.verify({
          method: 'GET',
          url: '/orders',
          protocol: 'https',
          headers: { host: 'api.example.com', 'client-ip-attestation': token },
          hints: { l3: '192.0.2.7' },
        }),
      );
  },
  web: (keys) => {
    const verifier = createWebVerifier({ keys: { keys: keys as never }, replayStore: new MapReplayStore() });
    return async (token) => outcome(await verifier.verify(new Request(URL_, { headers: { 'client-ip-attestation': token } }), { l3: '192.0.2.7' }));
  },
};

describe.each(Object.entries(verifiers))('the %s verifier', (_platform, make) => {
  for (const alg of ALGS) {
    it(`${alg}: a key whose use or key_ops rule out verifying is refused at setup, naming it`, async () => {
      const { publicJwk } = await makeKey(alg, 'marked');
      expect(() => make([{ ...publicJwk, use: 'enc' }])).toThrow(
        new TypeError('keys.keys[0]: use must be "sig" when present (this key is marked for something else)'),
      );
      for (const ops of [['encrypt'], ['sign'], [], 'verify']) {
        expect(() => make([{ ...publicJwk, key_ops: ops as string[] }]), JSON.stringify(ops)).toThrow(
          new TypeError('keys.keys[0]: key_ops must include "verify" when present'),
        );
      }
    });

    it(`${alg}: use "sig" and key_ops with "verify" verify as before`, async () => {
      const key = await makeKey(alg, 'for-sig');
      const ops = alg === 'HS256' ? ['sign', 'verify'] : ['verify'];
      const check = make([{ ...key.publicJwk, use: 'sig', key_ops: ops }]);
      const token = await createStamper({ key: key.privateJwk, ip: '192.0.2.7' }).stamp({ method: 'GET', url: URL_ });
      expect(await check(token)).toBe('accepted');
    });
  }
});

describe('the client', () => {
  for (const alg of ALGS) {
    it(`${alg}: a private JWK with key_ops ["sign", "verify"] signs, and the stamp verifies`, async () => {
      const key = await makeKey(alg, 'both-ops');
      const stamper = createStamper({ key: { ...key.privateJwk, key_ops: ['sign', 'verify'] } as never, ip: '192.0.2.7' });
      const token = await stamper.stamp({ method: 'GET', url: URL_ });
      expect(await verifiers.node([key.publicJwk])(token)).toBe('accepted');
    });

    it(`${alg}: a key marked for something else is a TypeError at setup, before any request`, async () => {
      const { privateJwk } = await makeKey(alg, 'not-for-signing');
      const setup = (key: JWK) => () => createStampedFetch({ key: key as never, ip: '192.0.2.7' });
      expect(setup({ ...privateJwk, use: 'enc' })).toThrow(new TypeError('key.use must be "sig" when present (this key is marked for something else)'));
      for (const ops of [['verify'], ['decrypt'], []]) {
        expect(setup({ ...privateJwk, key_ops: ops }), JSON.stringify(ops)).toThrow(new TypeError('key.key_ops must include "sign" when present'));
      }
      // the stamper, which imports on first use, refuses it there with the same error
      await expect(
        createStamper({ key: { ...privateJwk, key_ops: ['verify'] } as never, ip: '192.0.2.7' }).stamp({ method: 'GET', url: URL_ }),
      ).rejects.toThrow(new TypeError('key.key_ops must include "sign" when present'));
    });
  }
});

describe('the ticket issuer', () => {
  it('its signing key must be for signing, a key it only publishes for verifying', async () => {
    const signing = (await makeKey('ES256', 'edge-1')).privateJwk;
    const next = (await makeKey('EdDSA', 'edge-2')).publicJwk;
    expect(() => createIssuerKeys({ ...signing, use: 'enc' })).toThrow(
      new TypeError('key.use must be "sig" when present (this key is marked for something else)'),
    );
    expect(() => createIssuerKeys({ ...signing, key_ops: ['verify'] })).toThrow(new TypeError('key.key_ops must include "sign" when present'));
    expect(() => createIssuerKeys({ keys: [signing, { ...next, key_ops: ['sign'] }] })).toThrow(
      new TypeError('key.keys[1].key_ops must include "verify" when present'),
    );
    expect(
      createIssuerKeys({
        keys: [
          { ...signing, use: 'sig', key_ops: ['sign'] },
          { ...next, use: 'sig', key_ops: ['verify'] },
        ],
      }).jwks.keys.map((k) => k.kid),
    ).toEqual(['edge-1', 'edge-2']);
  });
});
