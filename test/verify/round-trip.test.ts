import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { StampAlg } from '../../shared/schema.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

const ALGS: StampAlg[] = ['HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'EdDSA', 'Ed25519'];

describe('stamp → verify round trip', () => {
  for (const alg of ALGS) {
    it(`${alg}: a fresh stamp from the client is accepted with agreement match`, async () => {
      const key = await makeKey(alg);
      const stamper = createStamper({ key: key.privateJwk, ip: '192.0.2.7', bodyDigest: true });
      const verifier = createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore() });
      const body = new TextEncoder().encode('{"order":1}');
      const token = await stamper.stamp({ method: 'POST', url: 'http://api.example.com/orders?x=1', body });
      const result = await verifier.verify({
        method: 'POST',
        url: '/orders?x=1',
        headers: { host: 'api.example.com', 'client-ip-attestation': token },
        body,
        hints: { l3: '::ffff:192.0.2.7' },
      });
      expect(result.ok).toBe(true);
      if (!result.ok || !result.verdict) throw new Error('rejected');
      expect(result.verdict).toMatchObject({ ip: '192.0.2.7', agreement: 'match', kid: key.kid, alg, source: 'stamp', obs: 'static' });
      expect(result.verdict.hints).toMatchObject({ l3: '192.0.2.7', observed: '192.0.2.7', decidedBy: 'l3' });
    });
  }
});
