import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVerifier, createKeyRegistry } from '../../server/index.js';
import { createWebVerifier } from '../../server/web/index.js';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * `use` / `key_ops` on the keys a request carries and on CryptoKeys. A client key is refused by the registry when its `use`/`key_ops` rule
 * out verifying; the same key in a ticket request's header jwk, or in a ticket's cnf.jwk,
 * verified the proof / the stamps all the same. And the Node verifier took a `{ key: CryptoKey }`
 * whose usages rule out verifying, which the web verifier refuses.
 */
const EDGE = 'https://edge.example.com';
const HTU = `${EDGE}/.well-known/ipstamp/ticket`;
const NOW = 1_767_225_600_000;
const client = generateKeyPairSync('ed25519');
const clientPrivate = client.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
const clientPublic = { kty: 'OKP', crv: 'Ed25519', x: client.publicKey.export({ format: 'jwk' }).x };
const MARKED = [{ use: 'enc' }, { key_ops: ['sign'] }, { key_ops: ['verify', 'verify'] }];

describe('a client key marked for something else, as the registry refuses it', () => {
  it('the registry refuses each', () => {
    for (const extra of MARKED) expect(() => createKeyRegistry().registerKey({ ...clientPublic, ...extra })).toThrow(TypeError);
  });

  it('the issuer answers bad-header to a ticket request whose header jwk carries it', async () => {
    const issuer = createTicketIssuer({
      key: { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'ES256' },
      origin: EDGE,
      origins: [EDGE],
      replayStore: new MapReplayStore(),
      now: () => NOW,
    });
    const ask = (jwk: Record<string, unknown>) => {
      const claims = { iat: Math.floor(NOW / 1000), jti: randomBytes(16).toString('base64url'), htm: 'POST', htu: HTU };
      const token = signRaw(clientPrivate, { alg: 'EdDSA', typ: 'ipstamp-ticket-req+jwt', jwk }, claims, 'EdDSA');
      return issuer.issue({
        method: 'POST',
        url: '/.well-known/ipstamp/ticket',
        protocol: 'https',
        headers: { host: 'edge.example.com', 'client-ip-attestation': token },
        hints: { l3: '203.0.113.7' },
      });
    };
    for (const extra of MARKED) {
      const result = await ask({ ...clientPublic, ...extra });
      expect(result.ok ? 'issued' : result.reason, JSON.stringify(extra)).toBe('bad-header');
    }
    expect((await ask({ ...clientPublic, use: 'sig', key_ops: ['verify'] })).ok).toBe(true);
  });

  it('a verifier refuses a ticket whose cnf.jwk carries it', async () => {
    const issuerPair = generateKeyPairSync('ed25519');
    const verify = createTicketVerifier(
      { [EDGE]: { keys: [{ ...issuerPair.publicKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' }] } },
      5,
      nodePlatform,
    );
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const ticket = (jwk: Record<string, unknown>) => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: EDGE, ip: '203.0.113.9', iat: now, exp: now + 300, jti: randomBytes(16).toString('base64url'), cnf: { jwk } };
      const text = `${b64({ alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' })}.${b64(claims)}`;
      return `${text}.${sign(null, Buffer.from(text), issuerPair.privateKey).toString('base64url')}`;
    };
    for (const extra of MARKED) expect(await verify(ticket({ ...clientPublic, ...extra }), Date.now()), JSON.stringify(extra)).toBeUndefined();
    expect(await verify(ticket(clientPublic), Date.now())).toBeDefined();
  });
});

describe('{ key: CryptoKey } whose usages rule out verifying: the same answer on Node and on the web', () => {
  it('HMAC with usages ["sign"], and a private ES256 key (usages ["sign"]), are refused by both', async () => {
    const hmac = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    for (const [key, alg, why] of [
      [hmac, 'HS256', 'key must allow "verify"'],
      [pair.privateKey, 'ES256', 'is a private key; the verifier needs only the public half'],
    ] as const) {
      const keys = { keys: [{ key, alg, kid: 'k' }] } as never;
      expect(() => createWebVerifier({ keys, replayStore: new MapReplayStore() }), alg).toThrow(new TypeError(`keys.keys[0]: ${why}`));
      expect(() => createVerifier({ keys, replayStore: new MapReplayStore() }), alg).toThrow(new TypeError(`keys.keys[0]: ${why}`));
    }
  });
});

describe('the client: { key: CryptoKey } whose usages rule out signing', () => {
  it("is a TypeError at setup, not jose's at the first request", async () => {
    const { createStampedFetch } = await import('../../client/index.node.js');
    const { generateStampKey } = await import('../../client/index.js');
    const hmac = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    expect(() => createStampedFetch({ key: { key: hmac, kid: 'a', alg: 'HS256' }, ip: '192.0.2.7' })).toThrow(new TypeError('key.key must allow "sign"'));
    const stampKey = await generateStampKey();
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    expect(() =>
      createStampedFetch({ key: { privateKey: pair.publicKey, publicJwk: stampKey.publicJwk, alg: 'ES256' }, ip: 'ticket', issuer: 'http://127.0.0.1:9' }),
    ).toThrow(new TypeError('key.privateKey must allow "sign"'));
    expect(() => createStampedFetch({ key: stampKey, ip: 'ticket', issuer: 'http://127.0.0.1:9' })).not.toThrow();
    expect(() => createStampedFetch({ key: stampKey, ip: '192.0.2.7' })).not.toThrow();
  });
});
