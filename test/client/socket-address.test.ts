import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent, fetch as undiciFetch, type Response as UndiciResponse } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, socketAddress, socketAddressPerOrigin, type FetchLike } from '../../client/index.node.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { startVerifyingServer, type VerifyingServer } from '../support/verifying-server.js';

let key: TestKeyPair;
let server: VerifyingServer;
let tcp: Server;
let tcpPort: number;
let connections = 0;
const agent = new Agent({ localAddress: '127.0.0.5' });
const fetchVia5: FetchLike<UndiciResponse> = (input, init) => undiciFetch(input, { ...init, dispatcher: agent });

beforeAll(async () => {
  key = await makeKey('ES256');
  server = await startVerifyingServer({ keys: [key.publicJwk] });
  tcp = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  tcpPort = (tcp.address() as AddressInfo).port;
});
afterAll(async () => {
  await server.close();
  await new Promise((resolve) => tcp.close(resolve));
  await agent.close();
});

describe("ip: 'socket'", () => {
  it('is the local address of a connection to the target, bound where asked', async () => {
    const source = socketAddress({ host: '127.0.0.1', port: tcpPort, localAddress: '127.0.0.5' });
    expect(source.obs).toBe('socket');
    expect(await source.current()).toBe('127.0.0.5');
  });

  it('writes an IPv4-mapped local address as IPv4', async () => {
    const source = socketAddress({ host: '::ffff:127.0.0.1', port: tcpPort });
    expect(await source.current()).toBe('127.0.0.1');
  });

  it('caches per origin: one probe connection for many calls, another after invalidate', async () => {
    const before = connections;
    const perOrigin = socketAddressPerOrigin({ localAddress: '127.0.0.5' });
    const source = perOrigin.sourceFor(`http://127.0.0.1:${tcpPort}`);
    expect(perOrigin.sourceFor(`http://127.0.0.1:${tcpPort}`)).toBe(source);
    await Promise.all([source.current(), source.current(), source.current()]);
    await source.current();
    expect(connections - before).toBe(1);
    source.invalidate?.();
    await source.current();
    expect(connections - before).toBe(2);
  });

  it('with createStampedFetch from the node entry, the verifier sees the same address: match', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'socket', localAddress: '127.0.0.5', fetch: fetchVia5 });
    const response = await stampedFetch(`${server.origin}/s`);
    expect(await response.json()).toMatchObject({ ip: '127.0.0.5', agreement: 'match', obs: 'socket' });
  });

  it('a mismatched local address is caught by the verifier (the socket check is real)', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'socket', localAddress: '127.0.0.7', fetch: fetchVia5 });
    const attempts = server.attempts.length;
    const response = await stampedFetch(`${server.origin}/s`);
    expect(response.status).toBe(403);
    // Refreshed once and retried: the probe still says .7, so the second 403 comes back.
    expect(server.attempts.length - attempts).toBe(2);
  });

  it('a refused connection → ERR_IPSTAMP_SOCKET_FAILED', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await Promise.resolve(socketAddress({ host: '127.0.0.1', port }).current()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_IPSTAMP_SOCKET_FAILED', message: 'could not learn the client address from a connection to the target' });
  });

  it('refuses bad options at setup', () => {
    expect(() => socketAddress({ host: '127.0.0.1', port: 0 })).toThrow(/port/);
    expect(() => socketAddressPerOrigin({ localAddress: 'eth0' })).toThrow(/localAddress/);
    // @ts-expect-error the types refuse this combination too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', localAddress: '127.0.0.5' })).toThrow(/socket/);
  });
});
