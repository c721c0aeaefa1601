import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxyForwarder, type ProxyForwarder } from '../../server/demo/proxy-forwarder.js';
import { freePort } from '../support/ports.js';

/**
 * The demo's load balancer in miniature: a PROXY header naming the client, then the bytes.
 * It must stay up when a client or the backend misbehaves, and let the demo end.
 */
/** What each test started, closed after it whatever happened. */
const closing: (() => Promise<void>)[] = [];

interface Backend {
  readonly port: number;
  /** Resolves with what one connection sent, once it contains `marker`. */
  receive(marker: string): Promise<string>;
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const sockets = new Set<Socket>();
  const waiting: { marker: string; resolve(text: string): void }[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    let got = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const i = waiting.findIndex((w) => got.includes(w.marker));
      if (i >= 0) waiting.splice(i, 1)[0]!.resolve(got);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const backend: Backend = {
    port: (server.address() as AddressInfo).port,
    receive: (marker) => new Promise((resolve) => waiting.push({ marker, resolve })),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  closing.push(() => backend.close());
  return backend;
}

afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});

async function forwarderTo(port: number, version: 1 | 2 = 1): Promise<ProxyForwarder> {
  const forwarder = await startProxyForwarder({ upstream: { host: '127.0.0.1', port }, version });
  closing.push(() => forwarder.close());
  return forwarder;
}

function dial(forwarder: ProxyForwarder, localAddress = '127.0.0.5'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: forwarder.host, port: forwarder.port, localAddress });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

const closed = (socket: Socket): Promise<void> => new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('the demo load balancer (proxy-forwarder)', () => {
  it("names the client in its PROXY header, then forwards the client's bytes", async () => {
    const backend = await startBackend();
    const forwarder = await forwarderTo(backend.port);
    const arrived = backend.receive('hello');
    const client = await dial(forwarder);
    client.end('hello');
    expect(await arrived).toBe(`PROXY TCP4 127.0.0.5 127.0.0.1 ${client.localPort} ${forwarder.port}\r\nhello`);
  });

  it('a client that resets its connection does not take the balancer down', async () => {
    const backend = await startBackend();
    const forwarder = await forwarderTo(backend.port);
    for (let i = 0; i < 3; i++) {
      // through to the backend, then reset: the balancer's side of it reads ECONNRESET
      const through = backend.receive(`reset-${i}`);
      const socket = await dial(forwarder);
      socket.on('error', () => undefined);
      socket.write(`reset-${i}`);
      await through;
      socket.resetAndDestroy();
      await closed(socket);
    }
    const arrived = backend.receive('still up');
    const client = await dial(forwarder, '127.0.0.6');
    client.end('still up');
    expect(await arrived).toMatch(/^PROXY TCP4 127\.0\.0\.6 .*\r\nstill up$/);
  });

  it('a backend that is down: the client is disconnected, and the balancer stays up', async () => {
    const forwarder = await forwarderTo(await freePort());
    for (let i = 0; i < 3; i++) {
      const client = await dial(forwarder);
      client.on('error', () => undefined);
      await closed(client);
    }
  });

  it('close() ends the connections still open, so the demo can exit', async () => {
    const backend = await startBackend();
    const forwarder = await startProxyForwarder({ upstream: { host: '127.0.0.1', port: backend.port } });
    const arrived = backend.receive('GET / HTTP/1.1');
    const client = await dial(forwarder);
    client.write('GET / HTTP/1.1\r\n');
    await arrived; // through to the backend, and left open
    await forwarder.close();
    await closed(client);
  });
});
