import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JWK } from 'jose';
import { createStamper } from '../../client/index.js';
import { createStampedFetch } from '../../client/index.node.js';
import { createVerifier, createIssuerKeys } from '../../server/index.js';
import { createWebVerifier } from '../../server/web/index.js';
import { parseRegistryKey } from '../../server/registry/key-registry.js';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { listenOnFreePort } from '../support/ports.js';

/**
 * `use` / `key_ops` (shared/public-jwk.ts misusedKeyProblem) where tickets take keys: an issuer's
 * inline JWK Set (named by its issuer), a ticket key's private JWK, key_ops that RFC 7517 §4.3
 * does not allow, and an issuer set inline and at a URL giving the same answer.
 */

const URL_ = 'https://api.example.com/orders';
const EDGE = 'https://edge.example.com';

describe('an issuer inline JWK Set: a misused key is named by its issuer', () => {
  it('the TypeError names issuers["<origin>"].keys[i], not keys.keys[i] (which the CLI blames on --keys)', async () => {
    const { publicJwk } = await makeKey('EdDSA', 'edge-1');
    for (const make of [createVerifier, createWebVerifier] as const) {
      expect(() =>
        make({ keys: { keys: [] }, issuers: { [EDGE]: { keys: [{ ...publicJwk, use: 'enc' }] } }, replayStore: new MapReplayStore() } as never),
      ).toThrow(new TypeError(`issuers["${EDGE}"].keys[0]: use must be "sig" when present (this key is marked for something else)`));
      expect(() =>
        make({ keys: { keys: [] }, issuers: { [EDGE]: { keys: [{ ...publicJwk, key_ops: ['sign'] }] } }, replayStore: new MapReplayStore() } as never),
      ).toThrow(new TypeError(`issuers["${EDGE}"].keys[0]: key_ops must include "verify" when present`));
    }
  });
});

describe("ip: 'ticket' with a private JWK as key.privateKey", () => {
  it('a JWK marked for something else is a TypeError at setup, as in the other modes', async () => {
    const { privateJwk } = await makeKey('ES256', 'p');
    const { d: _d, kid: _k, alg: _a, ...publicJwk } = privateJwk as Record<string, unknown>;
    const setup = (extra: Record<string, unknown>) => () =>
      createStampedFetch({ key: { privateKey: { ...privateJwk, ...extra }, publicJwk, alg: 'ES256' } as never, ip: 'ticket', issuer: 'http://127.0.0.1:9' });
    expect(setup({ use: 'enc' })).toThrow(new TypeError('key.privateKey.use must be "sig" when present (this key is marked for something else)'));
    expect(setup({ key_ops: ['verify'] })).toThrow(new TypeError('key.privateKey.key_ops must include "sign" when present'));
    expect(setup({ key_ops: ['sign', 'verify'] })).not.toThrow();
  });

  it('a JWK with key_ops ["sign", "verify"] signs the ticket request proof (WebCrypto refuses "verify" on a private key)', async () => {
    const { privateJwk } = await makeKey('ES256', 'p');
    const { d: _d, kid: _k, alg: _a, ...publicJwk } = privateJwk as Record<string, unknown>;
    let proof: string | undefined;
    const server = createServer((req, res) => {
      proof = String(req.headers['client-ip-attestation']);
      res.writeHead(503, { 'content-type': 'application/problem+json' }).end('{"reason":"store-unavailable","status":503}');
    });
    const port = await listenOnFreePort(server);
    try {
      const api = createStampedFetch({
        key: { privateKey: { ...privateJwk, key_ops: ['sign', 'verify'] }, publicJwk, alg: 'ES256' } as never,
        ip: 'ticket',
        issuer: `http://127.0.0.1:${port}`,
      });
      const error = await api(`http://127.0.0.1:${port}/x`).then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: unknown },
      );
      // the issuer was asked (a proof was signed); it answered 503, which is the error now
      expect(proof).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(error?.cause).toMatchObject({ status: 503 });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('key_ops that RFC 7517 §4.3 does not allow: values not strings, or one named twice', () => {
  const BAD: unknown[][] = [
    ['verify', 'verify'],
    ['verify', 1],
    ['verify', null],
  ];
  it('the verifiers, the registry and an issuer refuse them (jose ignores such a key in a fetched set)', async () => {
    for (const alg of ['HS256', 'ES256', 'EdDSA'] as const) {
      const { publicJwk } = await makeKey(alg, 'k');
      for (const ops of BAD) {
        const jwk = { ...publicJwk, key_ops: ops } as JWK;
        const message = 'keys.keys[0]: key_ops must be an array of distinct strings';
        expect(() => createVerifier({ keys: { keys: [jwk as never] }, replayStore: new MapReplayStore() }), JSON.stringify(ops)).toThrow(
          new TypeError(message),
        );
        expect(() => createWebVerifier({ keys: { keys: [jwk as never] }, replayStore: new MapReplayStore() }), JSON.stringify(ops)).toThrow(
          new TypeError(message),
        );
      }
    }
    const es = await makeKey('ES256', 'k');
    const { kid: _k, alg: _a, ...members } = es.publicJwk;
    const signing = (await makeKey('EdDSA', 'edge-1')).privateJwk;
    for (const ops of BAD) {
      expect(() => parseRegistryKey({ ...members, key_ops: ops })).toThrow(new TypeError('jwk: key_ops must be an array of distinct strings'));
      expect(() => createIssuerKeys({ keys: [signing, { ...es.publicJwk, key_ops: ops }] } as never)).toThrow(
        new TypeError('key.keys[1].key_ops must be an array of distinct strings'),
      );
    }
  });

  it('the client refuses them at setup', async () => {
    const { privateJwk } = await makeKey('ES256', 'k');
    for (const ops of [
      ['sign', 'sign'],
      ['sign', 1],
    ]) {
      expect(() => createStampedFetch({ key: { ...privateJwk, key_ops: ops } as never, ip: '192.0.2.7' }), JSON.stringify(ops)).toThrow(
        new TypeError('key.key_ops must be an array of distinct strings'),
      );
    }
    await expect(
      createStamper({ key: { ...privateJwk, key_ops: ['sign', 'sign'] } as never, ip: '192.0.2.7' }).stamp({ method: 'GET', url: URL_ }),
    ).rejects.toThrow(new TypeError('key.key_ops must be an array of distinct strings'));
  });
});

describe('an issuer set inline and the same set at a URL give the same answer', () => {
  let server: Server;
  let url = '';
  let published: unknown = { keys: [] };
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published)));
    url = `http://127.0.0.1:${await listenOnFreePort(server)}/jwks`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  let serial = 0;
  function ticket(key: KeyObject, kid: string): string {
    const now = Math.floor(Date.now() / 1000);
    const cnf = { jwk: { kty: 'OKP', crv: 'Ed25519', x: generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x } };
    const claims = { iss: EDGE, ip: '203.0.113.9', iat: now, exp: now + 300, jti: b64(`jti-${String(++serial).padStart(12, '0')}`), cnf };
    const text = `${b64({ alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid })}.${b64(claims)}`;
    return `${text}.${sign(null, Buffer.from(text), key).toString('base64url')}`;
  }

  it('key_ops ["verify", "verify"]: the URL verifies no ticket under it (jose), so inline it is refused at setup', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'iss-1', alg: 'EdDSA', key_ops: ['verify', 'verify'] }] };
    published = jwks;
    const fetched = createTicketVerifier({ [EDGE]: url }, 5, nodePlatform);
    expect(await fetched(ticket(privateKey, 'iss-1'), Date.now())).toBeUndefined();
    expect(() => createTicketVerifier({ [EDGE]: jwks }, 5, nodePlatform)).toThrow(/key_ops must be an array of distinct strings/);
  });
});
