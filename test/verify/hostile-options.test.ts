import { execFile } from 'node:child_process';
import { inspect, promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DurableObjectReplayStore, type ReplayNamespace } from '../../server/cloudflare/durable-object-store.js';
import { createVerifier, type CreateVerifierOptions } from '../../server/verify/create-verifier.js';
import { createWebVerifier } from '../../server/web/index.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';
import { outcomeOf, stampedGet } from '../support/stamped-get.js';

/**
 * Red-team round 44: option values written by someone other than the careful user — a
 * prototype-pollution bug elsewhere in the application, or an honest mistake. The standard:
 * the strict defaults stay unless an option of the user's own loosens them, and a bad value is
 * a TypeError at setup naming the option.
 */
const inherited = (name: string) =>
  new TypeError(`option "${name}" is inherited or not enumerable: give options as plain own properties (is Object.prototype polluted?)`);

const run = promisify(execFile);
const POLLUTED = new URL('../support/polluted-prototype.mjs', import.meta.url).pathname;

describe('a polluted Object.prototype loosens nothing (in a child process, against dist/)', () => {
  let report: {
    setup: Record<string, string>;
    verify: Record<string, string>;
    scheme: Record<string, string>;
    route: Record<string, { login: string; orders: string }>;
  };
  beforeAll(async () => {
    const { stdout } = await run(process.execPath, [POLLUTED], { timeout: 30_000 });
    report = JSON.parse(stdout) as typeof report;
  }, 40_000);

  it('every factory refuses an option it would only inherit, naming it', () => {
    const expected = Object.fromEntries(Object.keys(report.setup).map((entry) => [entry, `TypeError: ${inherited(entry.split(' ')[1]!).message}`]));
    expect(Object.keys(report.setup)).toHaveLength(23);
    expect(report.setup).toEqual(expected);
  });

  it('a live verifier believes no inherited hint, forwarding header or `required: false`', () => {
    expect(report.verify).toEqual({ unpolluted: 'ip-unverifiable', l4: 'ip-unverifiable', 'x-forwarded-for': 'ip-unverifiable', required: 'missing' });
  });

  it('nor an inherited tls or proxyTls: a plain-http request stays http for the binding', () => {
    expect(report.scheme).toEqual({ unpolluted: 'http', tls: 'http', proxyTls: 'http' });
  });

  it("nor a live Fastify app an inherited route setting: reportOnly, ipstamp: false or required: false polluted after start changes no route's answer", () => {
    // before the fix, reportOnly served /login's stampless request and ipstamp: false /orders' lying stamp
    const strict = { login: '401 missing', orders: '403 ip-mismatch' };
    expect(report.route).toEqual({ unpolluted: strict, reportOnly: strict, ipstamp: strict, required: strict });
  });
});

describe('options are the object’s own, enumerable properties, read once', () => {
  const keys = { keys: [] };

  it('an option inherited from a prototype of the user’s own, a getter of a class, or a non-enumerable one is refused', () => {
    const fromPrototype = Object.assign(Object.create({ onMismatch: 'flag' }) as object, { keys }) as CreateVerifierOptions;
    expect(() => createVerifier(fromPrototype)).toThrow(inherited('onMismatch'));
    class Settings {
      keys = keys;
      get requireBodyDigest() {
        return true;
      }
    }
    expect(() => createVerifier(new Settings())).toThrow(inherited('requireBodyDigest'));
    const hidden = Object.defineProperty({ keys }, 'requireBodyDigest', { value: true, enumerable: false });
    expect(() => createVerifier(hidden)).toThrow(inherited('requireBodyDigest'));
    expect(() => createWebVerifier(hidden)).toThrow(inherited('requireBodyDigest'));
  });

  it('a null-prototype object, a frozen one and a class instance with fields are read; Symbol keys are ignored', () => {
    const bare = Object.assign(Object.create(null) as object, { keys, onMismatch: 'flag' }) as CreateVerifierOptions;
    expect(createVerifier(bare).settings.onMismatch).toBe('flag');
    const frozen = Object.freeze({ keys: Object.freeze({ keys: Object.freeze([]) }), trustedProxies: Object.freeze(['loopback']) });
    expect(createVerifier(frozen).settings.trustedProxies).toEqual(['127.0.0.0/8', '::1/128']);
    class Settings {
      keys = keys;
      maxAge = 60;
    }
    expect(createVerifier(new Settings()).settings.maxAge).toBe(60);
    expect(createVerifier({ keys, [Symbol('onMismatch')]: 'flag' } as CreateVerifierOptions).settings.onMismatch).toBe('reject');
  });

  it('reads each policy once: a getter that answers strict, then loose, leaves the verifier strict', () => {
    const reads = new Map<string, number>();
    const strictThenLoose = {
      maxAge: [30, 86_400],
      skew: [5, 86_400],
      onMismatch: ['reject', 'flag'],
      onUnverifiable: ['reject', 'accept'],
      onStoreError: ['reject', 'accept'],
      requireBodyDigest: [true, 0],
      trustedProxies: [['10.0.0.0/8'], ['0.0.0.0/0']],
      origins: [['https://api.example.com'], ['https://evil.example']],
    } as const;
    const options = { keys };
    for (const [name, [strict, loose]] of Object.entries(strictThenLoose)) {
      Object.defineProperty(options, name, {
        enumerable: true,
        get: () => {
          reads.set(name, (reads.get(name) ?? 0) + 1);
          return reads.get(name) === 1 ? strict : loose;
        },
      });
    }
    const { settings } = createVerifier(options);
    expect(Object.fromEntries(reads)).toEqual(Object.fromEntries(Object.keys(strictThenLoose).map((name) => [name, 1])));
    expect(settings).toMatchObject({
      maxAge: 30,
      skew: 5,
      onMismatch: 'reject',
      onUnverifiable: 'reject',
      onStoreError: 'reject',
      requireBodyDigest: true,
      trustedProxies: ['10.0.0.0/8'],
      origins: ['https://api.example.com'],
    });
  });
});

describe('arrays and sets changed after the verifier is made change nothing', () => {
  let es: TestKeyPair;
  let late: TestKeyPair;
  beforeAll(async () => {
    [es, late] = await Promise.all([makeKey('ES256', 'early'), makeKey('ES256', 'late')]);
  });
  const NOW = 1_764_000_000;
  let n = 0;
  const stampBy = (key: TestKeyPair) =>
    signRaw(
      key.privateJwk,
      { alg: key.alg, typ: 'ipstamp+jwt', kid: key.kid },
      { ip: '192.0.2.7', iat: NOW, jti: `after-${String(++n).padStart(20, '0')}`, htm: 'GET', htu: 'https://api.example.com/a' },
    );

  it('trusted proxies, origins, the key set and the issuers are copied when the verifier is made', async () => {
    const trustedProxies = ['10.0.0.0/8'];
    const origins = ['https://api.example.com'];
    const keySet = { keys: [es.publicJwk] as Record<string, unknown>[] };
    const issuers: Record<string, { keys: Record<string, unknown>[] }> = {};
    const verifier = createVerifier({ keys: keySet, trustedProxies, origins, issuers, now: () => NOW * 1000 });
    const before = verifier.settings;

    trustedProxies.push('0.0.0.0/0');
    origins.push('https://evil.example');
    keySet.keys.push(late.publicJwk);
    keySet.keys.shift();
    issuers['https://edge.example.com'] = { keys: [] };

    expect(verifier.settings).toBe(before);
    expect(before).toMatchObject({ trustedProxies: ['10.0.0.0/8'], origins: ['https://api.example.com'], issuers: [] });
    expect(outcomeOf(await verifier.verify(stampedGet(stampBy(es))))).toBe('accepted');
    expect(outcomeOf(await verifier.verify(stampedGet(stampBy(late))))).toBe('unknown-key');
    // 192.0.2.7 is no trusted proxy, so its X-Forwarded-For is still not believed
    const forwarded = stampedGet(stampBy(es));
    expect(outcomeOf(await verifier.verify({ ...forwarded, headers: { ...forwarded.headers, 'x-forwarded-for': '198.51.100.1' } }))).toBe('accepted');
  });
});

describe('a wrong type or a value out of range is a TypeError at setup naming the option', () => {
  const keys = { keys: [] };
  const make = (over: Record<string, unknown>) => () => createVerifier({ keys, ...over } as CreateVerifierOptions);
  const NUMBERS: unknown[] = [NaN, Infinity, -Infinity, -1, 1.5, 1e300, 2 ** 31, '30', 30n, null, true];

  it.each(['maxAge', 'skew'])('%s: NaN, ±Infinity, negative, fractional, huge, a numeric string, a BigInt, null, true', (name) => {
    for (const value of NUMBERS) expect(make({ [name]: value }), String(value)).toThrow(new RegExp(`^${name} must be a whole number of seconds`));
  });

  it('skew -0 counts as 0 (and reads back as 0 in JSON); maxAge -0 is refused', () => {
    expect(JSON.stringify(createVerifier({ keys, skew: -0 }).settings.skew)).toBe('0');
    expect(make({ maxAge: -0 })).toThrow(/^maxAge must be a whole number of seconds from 1 to 86400$/);
  });

  it('policies are exact, lower-case words; booleans are booleans (never "false", 0 or 1)', () => {
    const policies = { onMismatch: 'reject, flag', onUnverifiable: 'accept, reject', onStoreError: 'reject, accept' };
    for (const [name, allowed] of Object.entries(policies)) {
      for (const value of ['ACCEPT', 'Flag', ' reject', 'reject ', '', null, 0, true]) {
        expect(make({ [name]: value }), `${name} ${String(value)}`).toThrow(new TypeError(`${name} must be one of ${allowed}`));
      }
    }
    for (const value of ['false', 'true', 0, 1, null]) {
      expect(make({ requireBodyDigest: value }), String(value)).toThrow(new TypeError('requireBodyDigest must be a boolean'));
    }
    for (const value of ['false', '', true, 'X-Forwarded-For ']) {
      expect(make({ protoHeader: value }), String(value)).toThrow(/^protoHeader must be one of/);
    }
  });

  /** `[first, <hole>, last]`: what `[a, , b]` or a stray comma in a config file makes. */
  const withHole = (first: string, last: string): string[] => {
    const list = new Array<string>(3);
    list[0] = first;
    list[2] = last;
    return list;
  };

  it('a trusted-proxy list or origin list with a hole or a non-string entry', () => {
    for (const trustedProxies of [withHole('10.0.0.0/8', '192.168.0.0/16'), new Array<string>(1), [5], [null], 5, {}]) {
      const message = new TypeError('trustedProxies must be a CIDR, a preset, or an array of them');
      expect(make({ trustedProxies }), inspect(trustedProxies)).toThrow(message);
      expect(() => createWebVerifier({ keys, trustedProxies } as never), inspect(trustedProxies)).toThrow(message);
    }
    for (const origins of [withHole('https://api.example.com', 'https://www.example.com'), new Array<string>(1), [5]]) {
      expect(make({ origins }), inspect(origins)).toThrow(new TypeError('origins: each must be an http(s) origin like https://api.example.com'));
    }
  });

  it('replay stores: MemoryReplayStore maxEntries and the Durable Object store’s timeoutMs beyond what setTimeout keeps', () => {
    for (const maxEntries of [0, NaN, Infinity, 1.5, 2 ** 31, '1000', 1000n]) {
      expect(() => new MemoryReplayStore({ maxEntries } as never), String(maxEntries)).toThrow(/^maxEntries must be an integer from 1 to /);
    }
    const namespace = { idFromName: () => ({}), get: () => ({ fetch: () => new Promise<Response>(() => {}) }) } as unknown as ReplayNamespace;
    // setTimeout runs 2^31 ms and longer after 1 ms: every check would be store-unavailable at once
    for (const timeoutMs of [2 ** 31, 1e15, Number.MAX_SAFE_INTEGER]) {
      expect(() => new DurableObjectReplayStore({ namespace, timeoutMs }), String(timeoutMs)).toThrow(
        new TypeError('timeoutMs must be a whole number of milliseconds from 1 to 2147483647'),
      );
    }
    expect(new DurableObjectReplayStore({ namespace, timeoutMs: 2 ** 31 - 1 }).shards).toBe(16);
  });
});
