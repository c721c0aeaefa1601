import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp, type IpStampPluginOptions } from '../../server/fastify/plugin.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { compiledOptionsOf } from '../../server/verify/verifier.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { buildApp, captureLog } from './app.js';

const HOST = 'api.example.com';
let key: TestKeyPair;

beforeAll(async () => {
  key = await makeKey('ES256', 'client-es');
});

const stamp = (ip = '127.0.0.1', path = '/orders') => createStamper({ key: key.privateJwk, ip }).stamp({ method: 'GET', url: `http://${HOST}${path}` });

describe('logging', () => {
  it('logs each rejection once at info with reason, kid and hints, and never the token', async () => {
    const { app, log } = await buildApp({ keys: { keys: [key.publicJwk] } });
    const tokens = [await stamp('203.0.113.9'), await stamp('127.0.0.1', '/elsewhere')];
    for (const token of tokens) {
      await app.inject({ method: 'GET', url: '/orders', headers: { host: HOST, 'client-ip-attestation': token } });
    }
    await app.inject({ method: 'POST', url: '/orders', headers: { host: HOST, 'content-type': 'application/json' }, payload: '{}' });
    await app.close();
    const rejections = log.lines.filter((l) => l.msg === 'ipstamp: stamp rejected');
    // once each: a stampless request is turned away in preParsing and not again in preValidation
    expect(rejections.map((l) => (l.ipstamp as { reason: string }).reason)).toEqual(['ip-mismatch', 'binding-mismatch', 'missing']);
    for (const line of rejections) {
      expect(line.level).toBe(30);
      expect(line.ipstamp).toMatchObject({ hints: { l3: '127.0.0.1', observed: '127.0.0.1' } });
    }
    expect(rejections.slice(0, 2).map((l) => (l.ipstamp as { kid: string }).kid)).toEqual(['client-es', 'client-es']);
    for (const token of tokens) {
      // no segment of the token, not even the signature alone
      for (const segment of token.split('.')) expect(log.text()).not.toContain(segment);
    }
  });

  it("onStoreError 'accept' warns at register and at every stamp it lets through unchecked", async () => {
    const broken: ReplayStore = { insertIfAbsent: () => Promise.reject(new Error('down')) };
    const { app, log } = await buildApp({ keys: { keys: [key.publicJwk] }, replayStore: broken, onStoreError: 'accept' });
    for (let i = 0; i < 2; i++) {
      const response = await app.inject({ method: 'GET', url: '/orders', headers: { host: HOST, 'client-ip-attestation': await stamp() } });
      expect(response.statusCode).toBe(200);
      expect(response.json().ipStamp.replayChecked).toBe(false);
    }
    expect(app.ipstamp.metrics().replayUnchecked).toBe(2);
    await app.close();
    const warnings = log.lines.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/onStoreError is 'accept'/);
    expect(warnings[1]).toMatch(/ACCEPTED WITHOUT a replay check/);
  });
});

describe('loud configuration (issue 12, item 6)', () => {
  const registrationWarnings = (log: { lines: Record<string, unknown>[] }) =>
    log.lines.filter((l) => l.level === 40 && String(l.msg).startsWith('ipstamp: LOOSENED'));

  it('one warning at register names every loosened policy, in a fixed order, with what it lets through', async () => {
    const { app, log } = await buildApp({
      keys: { keys: [key.publicJwk] },
      onStoreError: 'accept',
      onUnverifiable: 'accept',
      onMismatch: 'flag',
    });
    await app.close();
    const [warning, ...more] = registrationWarnings(log);
    expect(more).toEqual([]);
    expect(warning?.ipstamp).toEqual({ loosened: ['onMismatch: flag', 'onUnverifiable: accept', 'onStoreError: accept'] });
    const msg = String(warning?.msg);
    expect(msg.indexOf("onMismatch is 'flag'")).toBeGreaterThan(-1);
    expect(msg.indexOf("onUnverifiable is 'accept'")).toBeGreaterThan(msg.indexOf("onMismatch is 'flag'"));
    expect(msg.indexOf("onStoreError is 'accept'")).toBeGreaterThan(msg.indexOf("onUnverifiable is 'accept'"));
  });

  it('each loosened policy alone is named alone; the defaults, and explicit strict values, warn nothing', async () => {
    for (const [over, expected] of [
      [{ onMismatch: 'flag' }, ['onMismatch: flag']],
      [{ onUnverifiable: 'accept' }, ['onUnverifiable: accept']],
      [{}, undefined],
      [{ onMismatch: 'reject', onUnverifiable: 'reject', onStoreError: 'reject' }, undefined],
    ] as const) {
      const { app, log } = await buildApp({ keys: { keys: [key.publicJwk] }, ...over });
      await app.close();
      expect(registrationWarnings(log).map((l) => (l.ipstamp as { loosened: string[] }).loosened)[0]).toEqual(expected);
      expect(log.lines.filter((l) => l.level === 40)).toHaveLength(expected ? 1 : 0);
    }
  });

  describe('a trusted proxy that writes the other forwarding header', () => {
    const misconfigured = (log: { lines: Record<string, unknown>[] }) => log.lines.filter((l) => l.level === 40 && String(l.msg).includes('forwarding header'));

    const send = async (app: Awaited<ReturnType<typeof buildApp>>['app'], headers: Record<string, string>, remoteAddress = '127.0.0.1') => {
      const response = await app.inject({
        method: 'GET',
        url: '/orders',
        remoteAddress,
        headers: { host: HOST, 'client-ip-attestation': await stamp('198.51.100.7'), ...headers },
      });
      return response.statusCode;
    };

    it('configured for forwarded, the trusted peer sends X-Forwarded-For: exactly one warning after several requests', async () => {
      const { app, log } = await buildApp({
        keys: { keys: [key.publicJwk] },
        trustedProxies: ['loopback'],
        forwardedHeader: 'forwarded',
        onUnverifiable: 'accept',
      });
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push(await send(app, { 'x-forwarded-for': '198.51.100.7' }));
      await app.close();
      // what the warning is about: any claimed address goes through as unverifiable
      expect(codes).toEqual([200, 200, 200, 200, 200]);
      const warnings = misconfigured(log);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.ipstamp).toEqual({ forwardedHeader: 'forwarded', sent: ['x-forwarded-for'], peer: '127.0.0.1' });
      expect(String(warnings[0]!.msg)).toBe(
        'ipstamp: a trusted proxy sent a forwarding header other than the configured one (x-forwarded-for, not forwarded): ' +
          'client addresses cannot be observed; set forwardedHeader (--forwarded-header) to the header your proxies write',
      );
    });

    it('with the right header, from an untrusted peer, or with no forwarding header at all: no warning', async () => {
      const { app, log } = await buildApp({
        keys: { keys: [key.publicJwk] },
        trustedProxies: ['loopback'],
        forwardedHeader: 'forwarded',
        onUnverifiable: 'accept',
      });
      for (let i = 0; i < 3; i++) expect(await send(app, { forwarded: 'for=198.51.100.7' })).toBe(200);
      // both headers: the configured one is there, the proxy is configured right
      expect(await send(app, { forwarded: 'for=198.51.100.7', 'x-forwarded-for': '203.0.113.1' })).toBe(200);
      // a client (not a proxy) sending X-Forwarded-For of its own says nothing about the proxies
      await send(app, { 'x-forwarded-for': '198.51.100.7' }, '198.51.100.7');
      await send(app, {});
      await app.close();
      expect(misconfigured(log)).toEqual([]);
    });

    it('names every other header the proxy sent (x-real-ip too), behind the default x-forwarded-for', async () => {
      const { app, log } = await buildApp({ keys: { keys: [key.publicJwk] }, trustedProxies: ['loopback'] });
      await send(app, { 'x-real-ip': '198.51.100.7', forwarded: 'for=198.51.100.7' });
      await send(app, { 'x-real-ip': '198.51.100.7' });
      await app.close();
      expect(misconfigured(log).map((l) => l.ipstamp)).toEqual([{ forwardedHeader: 'x-forwarded-for', sent: ['forwarded', 'x-real-ip'], peer: '127.0.0.1' }]);
    });
  });
});

describe('options are checked at register time', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['echo', { echo: 'yes' }, /^echo must be a boolean$/],
    ['metrics', { metrics: 1 }, /^metrics must be a boolean$/],
    ['requireStamp', { requireStamp: null }, /^requireStamp must be a boolean$/],
    ['required', { required: 'no' }, /^required must be a boolean$/],
    [
      'required beside its deprecated name',
      { required: true, requireStamp: false },
      /^required and requireStamp \(its deprecated name\) disagree: give only required$/,
    ],
    ['unknown option', { bogusOption: 1 }, /^unknown option "bogusOption"$/],
    ['misspelt trustedProxies', { trustedProxy: ['10.0.0.1'] }, /^unknown option "trustedProxy" \(did you mean "trustedProxies"\?\)$/],
    ['misspelt onMismatch', { onMismach: 'flag' }, /^unknown option "onMismach" \(did you mean "onMismatch"\?\)$/],
    [
      'misspelt metricsPath (an option of the plugin, not the verifier)',
      { metricPath: '/m' },
      /^unknown option "metricPath" \(did you mean "metricsPath"\?\)$/,
    ],
    ['unknown option, even undefined', { requireBodyDigests: undefined }, /^unknown option "requireBodyDigests" \(did you mean "requireBodyDigest"\?\)$/],
    ['unknown issuer option', { issuer: { key: { kty: 'OKP' }, ttl: 5 } }, /^unknown option "issuer\.ttl"$/],
    ['onMismatch', { onMismatch: 'ignore' }, /^onMismatch must be one of reject, flag$/],
    ['maxAge', { maxAge: -1 }, /^maxAge must be/],
    ['keys', { keys: { keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'k', alg: 'HS256' }] } }, /^keys\.keys\[0\]: HMAC secret must be at least 32 bytes$/],
    ['trustedProxies', { trustedProxies: ['10.0.0.0/33'] }, /^trustedProxies: invalid CIDR prefix/],
  ];
  for (const [name, over, message] of cases) {
    it(`a bad ${name} rejects registration with a TypeError naming it`, async () => {
      const app = Fastify();
      const options = { keys: { keys: [key.publicJwk] }, ...over } as IpStampPluginOptions;
      const error = await app
        .register(ipstamp, options)
        .ready()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(message);
      await app.close();
    });
  }

  it("Fastify's own register options (prefix, logLevel, logSerializers) are no unknown options", async () => {
    const app = Fastify();
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, prefix: '/api', logLevel: 'warn', logSerializers: {} } as IpStampPluginOptions);
    await app.ready();
    expect(app.ipstamp.verifier.settings.maxAge).toBe(30);
    await app.close();
  });

  it('registering twice fails loudly rather than running two verifiers', async () => {
    const app = Fastify();
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    await expect(app.register(ipstamp, { keys: { keys: [key.publicJwk] } })).rejects.toThrow();
    await app.close();
  });

  it('closes the replay store it created when the app closes, and never one it was given', async () => {
    let closed = 0;
    const given: ReplayStore = { insertIfAbsent: () => true, close: () => void closed++ };
    const { stream } = captureLog();
    const app = Fastify({ logger: { stream } });
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, replayStore: given });
    await app.ready();
    await app.close();
    expect(closed).toBe(0);

    const own = Fastify();
    await own.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    await own.ready();
    const store = compiledOptionsOf(own.ipstamp.verifier).replayStore;
    expect(store.insertIfAbsent('k 1', 1000)).toBe(true);
    await own.close();
    expect(() => store.insertIfAbsent('k 2', 1000)).toThrow(/unavailable/);
  });
});
