import { createServer, Socket, type AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createStampedFetch } from '../../client/index.js';
import { createStampedFetch as createNodeStampedFetch, ipstampInterceptor } from '../../client/index.node.js';
import { makeKey } from '../support/keys.js';

/**
 * docs/client.md: "A wrong option throws a TypeError that names it when you call
 * createStampedFetch", and for ipstampInterceptor "A wrong or unknown option is a TypeError
 * naming it". The TTL options were checked by the address sources under their own name
 * (`ttlMs`), an option the caller never wrote.
 */
const key = (await makeKey('ES256', 'docs-client')).privateJwk;
const wrongTtls = [-1, 86_400_001, Number.NaN, '5'];

function messageOf(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return (error as Error).message;
  }
  throw new Error('no TypeError');
}

describe('docs/client.md: a wrong TTL option is a TypeError naming the option the caller wrote', () => {
  it.each(wrongTtls)('echoTtlMs %s', (ttl) => {
    const expected = 'echoTtlMs must be a number of milliseconds from 0 to 86400000';
    expect(messageOf(() => createStampedFetch({ key, ip: 'echo', echoTtlMs: ttl as number }))).toBe(expected);
    expect(messageOf(() => ipstampInterceptor({ key, ip: 'echo', echoTtlMs: ttl as number }))).toBe(expected);
  });

  it.each(wrongTtls)('socketTtlMs %s', (ttl) => {
    const expected = 'socketTtlMs must be a number of milliseconds from 0 to 86400000';
    expect(messageOf(() => createNodeStampedFetch({ key, ip: 'socket', socketTtlMs: ttl as number }))).toBe(expected);
    expect(messageOf(() => ipstampInterceptor({ key, ip: 'socket', socketTtlMs: ttl as number }))).toBe(expected);
  });

  it('the bounds themselves are taken (0 and one day)', () => {
    for (const ttl of [0, 86_400_000]) {
      expect(typeof createStampedFetch({ key, ip: 'echo', echoTtlMs: ttl })).toBe('function');
      expect(typeof ipstampInterceptor({ key, ip: 'socket', socketTtlMs: ttl })).toBe('function');
    }
  });
});

describe("docs/client.md: the interceptor's options do not include tickets", () => {
  it("ip: 'ticket' is refused with a message that does not send the caller to `issuer`, an option the interceptor refuses", () => {
    const said = messageOf(() => ipstampInterceptor({ key, ip: 'ticket' as 'echo' }));
    expect(said).toBe("ip: 'ticket' is not supported by ipstampInterceptor: use createStampedFetch");
    expect(messageOf(() => ipstampInterceptor({ key, ip: 'echo', issuer: 'https://edge.example' } as never))).toBe('unknown option "issuer"');
  });
});

describe('docs/client.md, client errors: how long the address probes wait', () => {
  it('the echo request is given up after 10 s (ERR_IPSTAMP_ECHO_FAILED)', async () => {
    const timeout = vi.spyOn(AbortSignal, 'timeout');
    try {
      const fetchEcho = async (input: string | URL | Request) =>
        new URL(input instanceof Request ? input.url : input).pathname === '/.well-known/ipstamp' ? Response.json({ ip: '192.0.2.7' }) : new Response('ok');
      await createStampedFetch({ key, ip: 'echo', fetch: fetchEcho })('https://api.example.com/orders');
      expect(timeout.mock.calls).toEqual([[10_000]]);
    } finally {
      timeout.mockRestore();
    }
  });

  it("the probe connection of ip: 'socket' is given up after 5 s (ERR_IPSTAMP_SOCKET_FAILED)", async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const setTimeout = vi.spyOn(Socket.prototype, 'setTimeout');
    try {
      const port = (server.address() as AddressInfo).port;
      await createNodeStampedFetch({ key, ip: 'socket', fetch: async () => new Response('ok') })(`http://127.0.0.1:${port}/orders`);
      expect(setTimeout.mock.calls.map(([ms]) => ms)).toEqual([5_000]);
    } finally {
      setTimeout.mockRestore();
      server.close();
    }
  });
});
