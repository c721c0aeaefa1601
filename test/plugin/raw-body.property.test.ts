import { Readable } from 'node:stream';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { stampDeclaresBodyDigest } from '../../server/fastify/raw-body.js';
import { routePolicy } from '../../server/fastify/route-config.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';
import { buildApp } from './app.js';

const HOST = 'api.example.com';
let key: TestKeyPair;
let stamper: Stamper;
let app: FastifyInstance;

beforeAll(async () => {
  key = await makeKey('HS256', 'prop-hs');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (pre) => {
    // an app parser the plugin does not own: its bytes come through the tee
    pre.addContentTypeParser('application/x-bytes', { parseAs: 'buffer' }, (_req, body, done) => done(null, { length: (body as Buffer).length }));
  }));
});
afterAll(async () => app?.close());

/** The body cut at arbitrary points, as a socket would deliver it. */
function chunked(bytes: Uint8Array, cuts: number[]): Readable {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    pieces.push(Buffer.from(bytes.subarray(from, p)));
    from = p;
  }
  return Readable.from(pieces.filter((p) => p.length > 0));
}

describe('raw body bytes, property-based', () => {
  it('any bytes in any chunking: the tee hands the verifier exactly what was sent; one flipped byte is caught', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 8 }), fc.nat(), async (bytes, cuts, flipAt) => {
        const token = await stamper.stamp({ method: 'POST', url: `http://${HOST}/orders`, body: bytes });
        const headers = { host: HOST, 'content-type': 'application/x-bytes', 'content-length': String(bytes.length), 'client-ip-attestation': token };
        const ok = await app.inject({ method: 'POST', url: '/orders', headers, payload: chunked(bytes, cuts) });
        expect(ok.statusCode).toBe(200);
        expect(ok.json().body).toEqual({ length: bytes.length });

        const tampered = Uint8Array.from(bytes);
        const i = flipAt % tampered.length;
        tampered[i] = tampered[i]! ^ 0x01;
        const token2 = await stamper.stamp({ method: 'POST', url: `http://${HOST}/orders`, body: bytes });
        const bad = await app.inject({
          method: 'POST',
          url: '/orders',
          headers: { ...headers, 'client-ip-attestation': token2 },
          payload: chunked(tampered, cuts),
        });
        expect(bad.json().reason).toBe('binding-mismatch');
      }),
      { numRuns: 60 },
    );
  });

  it('the cdg peek never throws and agrees with what the claims say', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })), (raw) => {
        expect(typeof stampDeclaresBodyDigest(raw)).toBe('boolean');
      }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }), (withCdg, extra) => {
        const claims = { ...extra, ...(withCdg ? { cdg: 'x' } : {}) };
        const token = signRaw(key.privateJwk, { alg: 'HS256', typ: 'ipstamp+jwt', kid: 'prop-hs' }, claims);
        expect(stampDeclaresBodyDigest(token)).toBe(Object.hasOwn(claims, 'cdg'));
      }),
    );
  });

  it("route config: only false skips, only a boolean required or reportOnly overrides the plugin's; anything else is the default", () => {
    const setting = fc.oneof(fc.anything(), fc.record({ required: fc.anything(), reportOnly: fc.anything() }, { requiredKeys: [] }));
    fc.assert(
      fc.property(setting, fc.boolean(), fc.boolean(), (setting, requireStamp, reportOnly) => {
        const request = { routeOptions: { config: { ipstamp: setting } } } as never;
        const policy = routePolicy(request, requireStamp, reportOnly);
        if (setting === false) return void expect(policy).toBe('skip');
        const route = typeof setting === 'object' && setting !== null ? (setting as { required?: unknown; reportOnly?: unknown }) : {};
        expect(policy).toEqual({
          required: typeof route.required === 'boolean' ? route.required : requireStamp,
          reportOnly: typeof route.reportOnly === 'boolean' ? route.reportOnly : reportOnly,
        });
      }),
    );
  });
});
