import { inspect } from 'node:util';
import { context } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { RedisReplayStore } from '../../server/redis.js';
import {
  createIssuerKeys,
  createKeyRegistry,
  createKeySet,
  createRemoteKeySet,
  createTicketIssuer,
  createVerifier,
  MemoryReplayStore,
} from '../../server/index.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { buildApp } from '../plugin/app.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { AsyncLocalContextManager, inMemorySdk } from '../support/otel.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * What ipstamp hands an exporter or a `console.log` that an attacker could grow or a secret
 * could ride on: metric attributes are a fixed set whatever the requests carry (a value per
 * request would be a new series, and memory, in the metrics SDK), and the public objects an
 * app holds print no key material, password or token.
 */
const { metrics: METRIC, attributes: ATTR } = TELEMETRY_NAMES;
let hmac: TestKeyPair;
let ec: TestKeyPair;
let issuer: TestKeyPair;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalContextManager());
  hmac = await makeKey('HS256', 'out-hs');
  ec = await makeKey('ES256', 'out-es');
  issuer = await makeKey('EdDSA', 'out-issuer');
});
afterAll(() => {
  context.disable();
});

describe('metric attributes under attacker-chosen values', () => {
  it('60 requests each with its own kid, address, path, forwarding entry and garbage: the same 4 series, counted', async () => {
    const sdk = inMemorySdk();
    const { app } = await buildApp({
      keys: { keys: [hmac.publicJwk] },
      trustedProxies: ['loopback'],
      telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }),
    });
    const N = 60;
    const statuses = new Map<number, number>();
    const send = async (path: string, xff: string, token: string): Promise<void> => {
      const { statusCode } = await app.inject({ url: path, headers: { host: 'api.example.com', 'x-forwarded-for': xff, 'client-ip-attestation': token } });
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    };
    for (let i = 0; i < N; i++) {
      const client = `203.0.113.${i + 1}`;
      const path = `/orders?i=${i}`;
      const stamp = (ip: string) => createStamper({ key: hmac.privateJwk, ip }).stamp({ method: 'GET', url: `http://api.example.com${path}` });
      const claims = { ip: client, iat: Math.floor(Date.now() / 1000), jti: `jti-${i}-`.padEnd(22, 'x'), htm: 'GET', htu: 'http://api.example.com/orders' };
      await send(path, client, await stamp(client)); // accepted, match
      await send(path, client, await stamp(`198.51.100.${i + 1}`)); // ip-mismatch
      await send(path, client, signRaw(hmac.privateJwk, { alg: 'HS256', typ: 'ipstamp+jwt', kid: `made-up-${i}` }, claims)); // unknown-key
      await send(path, client, `garbage-${i}.${'x'.repeat(i)}`); // malformed
    }
    await app.close();
    expect(Object.fromEntries(statuses)).toEqual({ 200: N, 401: 2 * N, 403: N });

    const series = async (name: string) => Object.fromEntries((await sdk.points(name)).map((p) => [JSON.stringify(p.attributes), p.value]));
    expect(await series(METRIC.requests)).toEqual({
      [JSON.stringify({ [ATTR.outcome]: 'accepted', [ATTR.agreement]: 'match', [ATTR.replayChecked]: true, [ATTR.source]: 'stamp' })]: N,
      [JSON.stringify({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'ip-mismatch' })]: N,
      [JSON.stringify({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'unknown-key' })]: N,
      [JSON.stringify({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'malformed' })]: N,
    });
    expect(await series(METRIC.verifyDuration)).toEqual({
      [JSON.stringify({ [ATTR.outcome]: 'accepted' })]: N,
      [JSON.stringify({ [ATTR.outcome]: 'rejected' })]: 3 * N,
    });
    expect(await series(METRIC.replayStoreDuration)).toEqual({ [JSON.stringify({ [ATTR.storeOutcome]: 'inserted' })]: 2 * N });
    // spans carry the verified detail (kid, address) only: no claimed kid, no path, no forwarding entry beyond the attested address
    const spanValues = sdk.spans().flatMap((s) => Object.values(s.attributes).map(String));
    expect(spanValues.filter((v) => /made-up|garbage|orders|198\.51\.100/.test(v))).toEqual([]);
    expect(new Set(sdk.spans().flatMap((s) => (s.attributes[ATTR.kid] === undefined ? [] : [s.attributes[ATTR.kid]])))).toEqual(new Set([hmac.kid]));
    await sdk.shutdown();
  });
});

describe('public objects print no secret', () => {
  it('console.log and JSON.stringify of a verifier, key sets, an issuer, a stamper, a registry and a Redis store', async () => {
    const password = 'redis-pass-7c1f9a';
    const token = 'keys-token-51d0e2';
    const store = new RedisReplayStore(`redis://:${password}@127.0.0.1:1/0`, { onClientError: () => undefined });
    const objects: Record<string, unknown> = {
      verifier: createVerifier({ keys: { keys: [hmac.publicJwk, ec.publicJwk] } }),
      keySet: createKeySet({ keys: [hmac.publicJwk] }),
      remoteKeySet: createRemoteKeySet(`https://keys.example/jwks.json?token=${token}`),
      issuerKeys: createIssuerKeys(issuer.privateJwk),
      issuer: createTicketIssuer({ key: issuer.privateJwk, replayStore: new MemoryReplayStore(), origin: 'https://edge.example' }),
      stamper: createStamper({ key: hmac.privateJwk, ip: '192.0.2.1' }),
      registry: createKeyRegistry(),
      store,
    };
    try {
      const secrets = [hmac.privateJwk.k!, ec.privateJwk.d!, issuer.privateJwk.d!, password, token];
      const leaks: string[] = [];
      for (const [name, object] of Object.entries(objects)) {
        const shown = [inspect(object, { depth: Infinity, showHidden: true, getters: true }), JSON.stringify(object) ?? ''];
        for (const secret of secrets) if (shown.some((text) => text.includes(secret))) leaks.push(`${name}: ${secrets.indexOf(secret)}`);
      }
      expect(leaks).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
