import { Readable } from 'node:stream';
import { Agent, Client, fetch as undiciFetch, interceptors, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipstampInterceptor, type StampInterceptorOptions } from '../../client/index.node.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { startVerifyingServer, type Attempt, type Reply, type VerifyingServer } from '../support/verifying-server.js';

let key: TestKeyPair;
let server: VerifyingServer;
const agent = new Agent({ localAddress: '127.0.0.5' });
/** Paths whose first attempt answers 503 (after the stamp was verified and its jti consumed). */
const flakyOnce = new Set<string>();

function route(attempt: Attempt): Reply | undefined {
  if (flakyOnce.delete(attempt.path)) return { status: 503, body: 'try again' };
  if (attempt.path.startsWith('/old')) return { status: 302, headers: { location: attempt.path.replace('/old', '/new') } };
  return undefined;
}

beforeAll(async () => {
  key = await makeKey('ES256');
  server = await startVerifyingServer({ keys: [key.publicJwk], route });
});
afterAll(async () => {
  await server.close();
  await agent.close();
});

const stampOptions = (extra: Partial<StampInterceptorOptions> = {}): StampInterceptorOptions => ({ key: key.privateJwk, ip: '127.0.0.5', ...extra });
const outcome = (a: Attempt) => (a.result.ok ? 'ok' : a.result.reason);
const since = (n: number) => server.attempts.slice(n);

/** Our interceptor first (innermost): every retry and every redirect hop passes through it. */
function stampedAgent(extra: Partial<StampInterceptorOptions> = {}): Dispatcher {
  return agent.compose(
    ipstampInterceptor(stampOptions(extra)),
    interceptors.retry({ minTimeout: 10, maxTimeout: 10, timeoutFactor: 1, maxRetries: 2 }),
    interceptors.redirect({ maxRedirections: 3 }),
  );
}

describe('ipstampInterceptor', () => {
  it('stamps a plain request; the verifier accepts it', async () => {
    const n = server.attempts.length;
    const response = await request(`${server.origin}/plain?x=1`, { dispatcher: stampedAgent() });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ ip: '127.0.0.5', agreement: 'match' });
    expect(since(n)[0]!.claims).toMatchObject({ htm: 'GET', htu: `${server.origin}/plain` });
  });

  it('a retried request carries a fresh stamp (a different jti) and is accepted', async () => {
    flakyOnce.add('/flaky');
    const n = server.attempts.length;
    const response = await request(`${server.origin}/flaky`, { dispatcher: stampedAgent() });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    const tries = since(n);
    expect(tries.map((a) => [a.status, outcome(a)])).toEqual([
      [503, 'ok'],
      [200, 'ok'],
    ]);
    expect(tries[0]!.claims!.jti).not.toBe(tries[1]!.claims!.jti);
  });

  it('a redirected request is stamped for the new URL (its htu)', async () => {
    const n = server.attempts.length;
    const response = await request(`${server.origin}/old/place`, { dispatcher: stampedAgent() });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    const hops = since(n);
    expect(hops.map((a) => [a.path, a.status, outcome(a)])).toEqual([
      ['/old/place', 302, 'ok'],
      ['/new/place', 200, 'ok'],
    ]);
    expect(hops.map((a) => a.claims!.htu)).toEqual([`${server.origin}/old/place`, `${server.origin}/new/place`]);
  });

  it('composed the wrong way round (outside retry), a retry resends the old stamp and is refused as a replay', async () => {
    const wrong = agent.compose(interceptors.retry({ minTimeout: 10, maxTimeout: 10, timeoutFactor: 1, maxRetries: 2 }), ipstampInterceptor(stampOptions()));
    flakyOnce.add('/flaky-wrong');
    const n = server.attempts.length;
    const response = await request(`${server.origin}/flaky-wrong`, { dispatcher: wrong });
    expect(response.statusCode).toBe(401);
    await response.body.dump();
    expect(since(n).map(outcome)).toEqual(['ok', 'replay']);
  });

  const shapes: [string, () => Dispatcher.DispatchOptions['headers']][] = [
    ['an object', () => ({ 'x-one': '1', 'x-many': ['a', 'b'] })],
    ['a flat array', () => ['x-one', '1', 'x-many', 'a', 'x-many', 'b']],
    [
      'an array of pairs',
      () =>
        [
          ['x-one', '1'],
          ['x-many', ['a', 'b']],
        ] as unknown as string[],
    ],
    [
      'an iterable (Map)',
      () =>
        new Map<string, string | string[]>([
          ['x-one', '1'],
          ['x-many', ['a', 'b']],
        ]),
    ],
  ];
  for (const [name, make] of shapes) {
    it(`headers as ${name}: kept, stamped, and the caller's options object untouched`, async () => {
      const headers = make();
      const opts = deepFreeze({ origin: server.origin, path: `/shape`, method: 'GET' as const, headers });
      const snapshot = JSON.stringify({ ...opts, headers: headers instanceof Map ? [...headers] : headers });
      const n = server.attempts.length;
      const response = await agent.compose(ipstampInterceptor(stampOptions())).request(opts);
      expect(response.statusCode).toBe(200);
      await response.body.dump();
      expect(JSON.stringify({ ...opts, headers: headers instanceof Map ? [...headers] : headers })).toBe(snapshot);
      const seen = since(n)[0]!.headers;
      expect(seen['x-one']).toBe('1');
      expect(seen['x-many']).toBe('a, b');
      expect(typeof seen['client-ip-attestation']).toBe('string');
    });
  }

  it('replaces a stamp header the caller set, in any case, instead of sending two', async () => {
    for (const headers of [{ 'Client-IP-Attestation': 'old' }, ['CLIENT-IP-ATTESTATION', 'old']]) {
      const response = await request(`${server.origin}/dup`, { dispatcher: stampedAgent(), headers });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    }
  });

  it('binds htu to a Host header the caller sets, which is what the server checks', async () => {
    const n = server.attempts.length;
    const response = await request(`${server.origin}/vhost`, { dispatcher: stampedAgent(), headers: { host: 'API.Example.test:80' } });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    expect(since(n)[0]!.claims!.htu).toBe('http://api.example.test/vhost');
  });

  it('signs the path exactly as sent, dot segments included', async () => {
    const response = await agent.compose(ipstampInterceptor(stampOptions())).request({ origin: server.origin, path: '/a/../b', method: 'GET' });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    expect(server.attempts.at(-1)!.claims!.htu).toBe(`${server.origin}/a/../b`);
  });

  it('with bodyDigest: string and Buffer bodies are digested and accepted', async () => {
    for (const body of ['{"a":1}', Buffer.from([1, 2, 3])]) {
      const n = server.attempts.length;
      const response = await request(`${server.origin}/post`, { dispatcher: stampedAgent({ bodyDigest: true }), method: 'POST', body });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
      expect(since(n)[0]!.claims).toHaveProperty('cdg');
    }
  });

  it('with bodyDigest: a stream body fails with ERR_IPSTAMP_BODY_NOT_DIGESTIBLE and nothing is sent', async () => {
    const n = server.attempts.length;
    const error = await request(`${server.origin}/post`, {
      dispatcher: stampedAgent({ bodyDigest: true }),
      method: 'POST',
      body: Readable.from([Buffer.from('x')]),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'IpStampClientError', code: 'ERR_IPSTAMP_BODY_NOT_DIGESTIBLE' });
    expect(server.attempts.length).toBe(n);
  });

  it('works under undici fetch given the composed dispatcher', async () => {
    const response = await undiciFetch(`${server.origin}/via-fetch`, { dispatcher: stampedAgent() });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ agreement: 'match' });
  });

  it("ip: 'echo' asks through the same agent, caches, and drops the address on an ip-mismatch", async () => {
    const dispatcher = stampedAgent({ ip: 'echo' });
    const echoes = server.echoCount;
    for (let i = 0; i < 2; i++) {
      const response = await request(`${server.origin}/e`, { dispatcher });
      expect(await response.body.json()).toMatchObject({ ip: '127.0.0.5', obs: 'echo', agreement: 'match' });
    }
    expect(server.echoCount - echoes).toBe(1);
    server.echoAnswer = '192.0.2.44';
    const forced = stampedAgent({ ip: 'echo' });
    const rejected = await request(`${server.origin}/e`, { dispatcher: forced });
    expect(rejected.statusCode).toBe(403);
    expect(await rejected.body.json()).toMatchObject({ reason: 'ip-mismatch' });
    server.echoAnswer = undefined;
    const healed = await request(`${server.origin}/e`, { dispatcher: forced });
    expect(await healed.body.json()).toMatchObject({ ip: '127.0.0.5', agreement: 'match' });
    expect(server.echoCount - echoes).toBe(3);
  });

  it("ip: 'socket' with the agent's localAddress: the verifier agrees", async () => {
    const response = await request(`${server.origin}/sock`, { dispatcher: stampedAgent({ ip: 'socket', localAddress: '127.0.0.5' }) });
    expect(await response.body.json()).toMatchObject({ ip: '127.0.0.5', obs: 'socket', agreement: 'match' });
  });

  it('a Client composed directly has no origin in its dispatches: the origin option supplies it', async () => {
    const client = new Client(server.origin, { localAddress: '127.0.0.5' });
    try {
      const bare = await client
        .compose(ipstampInterceptor(stampOptions()))
        .request({ path: '/c', method: 'GET' })
        .catch((e: unknown) => e);
      expect(bare).toMatchObject({ code: 'ERR_IPSTAMP_NO_ORIGIN' });
      const response = await client.compose(ipstampInterceptor(stampOptions({ origin: server.origin }))).request({ path: '/c', method: 'GET' });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    } finally {
      await client.close();
    }
  });

  it('refuses bad options at setup', () => {
    expect(() => ipstampInterceptor(stampOptions({ ip: 'nope' }))).toThrow(TypeError);
    expect(() => ipstampInterceptor(stampOptions({ origin: 'http://x/path' }))).toThrow(/origin/);
    expect(() => ipstampInterceptor(stampOptions({ localAddress: '127.0.0.5' }))).toThrow(/socket/);
    expect(() => ipstampInterceptor({ key: { kid: 'k' } as never, ip: '127.0.0.5' })).toThrow(/key\.alg/);
    expect(() => ipstampInterceptor(stampOptions({ orign: 'http://x' } as never))).toThrow(new TypeError('unknown option "orign" (did you mean "origin"?)'));
    expect(() => ipstampInterceptor(stampOptions({ issuer: 'https://edge.example.com' } as never))).toThrow(new TypeError('unknown option "issuer"'));
    expect(() => ipstampInterceptor(stampOptions({ ip: { obs: 'stun', current: () => '127.0.0.5' } as never }))).toThrow(
      new TypeError('ip.obs must be one of static, socket, echo, ticket'),
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof Map)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
