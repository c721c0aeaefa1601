import { Agent, fetch as undiciFetch, type Response as UndiciResponse } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, echoAddress, echoAddressPerOrigin, IpStampClientError, type FetchLike } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { startVerifyingServer, type VerifyingServer } from '../support/verifying-server.js';

let key: TestKeyPair;
let server: VerifyingServer;
const agents = { five: new Agent({ localAddress: '127.0.0.5' }), six: new Agent({ localAddress: '127.0.0.6' }) };

/** A fetch whose client address the test switches, as a laptop changing networks would. */
function switchableFetch(start: Agent): { fetch: FetchLike<UndiciResponse>; use(agent: Agent): void } {
  let current = start;
  return {
    fetch: (input, init) => undiciFetch(input, { ...init, dispatcher: current }),
    use: (agent) => {
      current = agent;
    },
  };
}

beforeAll(async () => {
  key = await makeKey('EdDSA');
  server = await startVerifyingServer({ keys: [key.publicJwk] });
});
afterAll(async () => {
  await server.close();
  await Promise.all([agents.five.close(), agents.six.close()]);
});

describe("ip: 'echo'", () => {
  it('learns the address the server observes, and the verifier agrees', async () => {
    const echoes = server.echoCount;
    const client = switchableFetch(agents.five);
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: client.fetch });
    const response = await stampedFetch(`${server.origin}/orders`);
    expect(await response.json()).toMatchObject({ ip: '127.0.0.5', agreement: 'match', obs: 'echo' });
    expect(server.echoCount - echoes).toBe(1);
  });

  it('caches the address: several calls, one echo request; after the TTL, one more', async () => {
    let clock = 0;
    const echoes = server.echoCount;
    const client = switchableFetch(agents.five);
    const ip = echoAddress({ url: `${server.origin}/.well-known/ipstamp`, fetch: client.fetch, ttlMs: 60_000, now: () => clock });
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip, fetch: client.fetch });
    for (let i = 0; i < 3; i++) expect((await stampedFetch(`${server.origin}/c`)).status).toBe(200);
    expect(server.echoCount - echoes).toBe(1);
    clock = 59_999;
    expect((await stampedFetch(`${server.origin}/c`)).status).toBe(200);
    expect(server.echoCount - echoes).toBe(1);
    clock = 60_000;
    expect((await stampedFetch(`${server.origin}/c`)).status).toBe(200);
    expect(server.echoCount - echoes).toBe(2);
  });

  it('echoTtlMs reaches the cache (0: ask before every request)', async () => {
    const echoes = server.echoCount;
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', echoTtlMs: 0, fetch: switchableFetch(agents.five).fetch });
    for (let i = 0; i < 3; i++) expect((await stampedFetch(`${server.origin}/c`)).status).toBe(200);
    expect(server.echoCount - echoes).toBe(3);
  });

  it('concurrent first calls share one echo request', async () => {
    const echoes = server.echoCount;
    const client = switchableFetch(agents.five);
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: client.fetch });
    const responses = await Promise.all(Array.from({ length: 8 }, () => stampedFetch(`${server.origin}/p`)));
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(server.echoCount - echoes).toBe(1);
  });

  it('on ip-mismatch, refreshes once and sends the request again with the new address', async () => {
    const client = switchableFetch(agents.five);
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: client.fetch, bodyDigest: true });
    expect((await stampedFetch(`${server.origin}/m`)).status).toBe(200);
    client.use(agents.six); // the client's address changes under it
    const echoes = server.echoCount;
    const attempts = server.attempts.length;
    const response = await stampedFetch(`${server.origin}/m`, { method: 'POST', body: 'replayable' });
    expect(await response.json()).toMatchObject({ ip: '127.0.0.6', agreement: 'match' });
    expect(server.echoCount - echoes).toBe(1);
    const tries = server.attempts.slice(attempts);
    expect(tries.map((a) => (a.result.ok ? 'ok' : a.result.reason))).toEqual(['ip-mismatch', 'ok']);
    expect(tries[0]!.claims!.jti).not.toBe(tries[1]!.claims!.jti);
  });

  it('gives up after one retry: a second ip-mismatch is returned to the caller', async () => {
    const client = switchableFetch(agents.five);
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: client.fetch });
    server.echoAnswer = '192.0.2.1'; // an echo that keeps telling the wrong address
    try {
      const echoes = server.echoCount;
      const attempts = server.attempts.length;
      const response = await stampedFetch(`${server.origin}/g`);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ reason: 'ip-mismatch' });
      expect(server.echoCount - echoes).toBe(2);
      expect(server.attempts.length - attempts).toBe(2);
    } finally {
      server.echoAnswer = undefined;
    }
  });

  it('a stream body cannot be sent twice: the 403 is returned, and the next call uses a fresh address', async () => {
    const client = switchableFetch(agents.five);
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: client.fetch });
    expect((await stampedFetch(`${server.origin}/s`)).status).toBe(200);
    client.use(agents.six);
    const attempts = server.attempts.length;
    const stream = new ReadableStream({
      start: (c) => {
        c.enqueue(new Uint8Array([1, 2]));
        c.close();
      },
    });
    const rejected = await stampedFetch(`${server.origin}/s`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(rejected.status).toBe(403);
    expect(await rejected.json()).toMatchObject({ reason: 'ip-mismatch' });
    expect(server.attempts.length - attempts).toBe(1);
    expect(await (await stampedFetch(`${server.origin}/s`)).json()).toMatchObject({ ip: '127.0.0.6' });
  });

  it('a static address is not refreshed: the 403 comes back after one attempt', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '192.0.2.9', fetch: switchableFetch(agents.five).fetch });
    const attempts = server.attempts.length;
    expect((await stampedFetch(`${server.origin}/st`)).status).toBe(403);
    expect(server.attempts.length - attempts).toBe(1);
  });

  it('uses a configured echoUrl for every origin', async () => {
    const other = await startVerifyingServer({ keys: [key.publicJwk] });
    try {
      const client = switchableFetch(agents.five);
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', echoUrl: `${server.origin}/.well-known/ipstamp`, fetch: client.fetch });
      const echoes = server.echoCount;
      expect((await stampedFetch(`${other.origin}/x`)).status).toBe(200);
      expect((await stampedFetch(`${server.origin}/x`)).status).toBe(200);
      expect(server.echoCount - echoes).toBe(1);
      expect(other.echoCount).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('without echoUrl, asks each origin separately', async () => {
    const other = await startVerifyingServer({ keys: [key.publicJwk] });
    try {
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: switchableFetch(agents.five).fetch });
      const echoes = server.echoCount;
      await stampedFetch(`${other.origin}/x`);
      await stampedFetch(`${server.origin}/x`);
      await stampedFetch(`${other.origin}/y`);
      expect([server.echoCount - echoes, other.echoCount]).toEqual([1, 1]);
    } finally {
      await other.close();
    }
  });
});

describe('echo failures', () => {
  const replies = [
    ['a 404', { status: 404, body: 'not here' }],
    ['a body that is not JSON', { status: 200, body: 'ip=127.0.0.5' }],
    ['an ip that is not an address', { status: 200, body: '{"ip":"localhost"}' }],
    ['a non-canonical ip claim source (duplicate members)', { status: 200, body: '{"ip":"127.0.0.5","ip":"127.0.0.6"}' }],
    ['an oversized body', { status: 200, body: `{"ip":"127.0.0.5","pad":"${'x'.repeat(10_000)}"}` }],
  ] as const;

  for (const [name, reply] of replies) {
    it(`${name} → ERR_IPSTAMP_ECHO_FAILED, nothing sent, and the failure is not cached`, async () => {
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: switchableFetch(agents.five).fetch });
      const attempts = server.attempts.length;
      server.echoReply = { ...reply };
      try {
        const error = await stampedFetch(`${server.origin}/f`).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(IpStampClientError);
        expect(error).toMatchObject({ code: 'ERR_IPSTAMP_ECHO_FAILED', message: 'could not learn the client address from the echo endpoint' });
        expect(server.attempts.length).toBe(attempts);
      } finally {
        server.echoReply = undefined;
      }
      expect((await stampedFetch(`${server.origin}/f`)).status).toBe(200);
    });
  }

  it('an unreachable echo endpoint → ERR_IPSTAMP_ECHO_FAILED with the network error as cause', async () => {
    const source = echoAddress({ url: 'http://127.0.0.1:1/.well-known/ipstamp', fetch: switchableFetch(agents.five).fetch });
    const error = await Promise.resolve(source.current()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_IPSTAMP_ECHO_FAILED' });
    expect((error as Error).cause).toBeDefined();
  });

  it('refuses a bad echoUrl at setup', () => {
    expect(() => echoAddress({ url: 'ftp://example.com/' })).toThrow(TypeError);
    expect(() => echoAddress({ url: 'nope' })).toThrow(/echoUrl/);
    expect(() => createStampedFetch({ key: key.privateJwk, ip: 'echo', echoTtlMs: -1 })).toThrow(/^echoTtlMs must be/);
  });

  it('refuses an unknown option at setup, naming it', () => {
    expect(() => echoAddress({ url: 'https://api.example.com/.well-known/ipstamp', ttl: 5 } as never)).toThrow(/^unknown option "ttl"/);
    expect(() => echoAddressPerOrigin({ timeout: 5 } as never)).toThrow(/^unknown option "timeout"/);
  });
});
