import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/stamper.js';
import { makeKey } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { waitFor } from './stamped-traffic.js';

/**
 * A client that stops reading its answer. The gateway streams
 * the upstream's body to the client; once the client stops reading, the body is paused, and
 * undici's body timeout does not run while it is paused. So nothing ended the exchange: the
 * client's connection, the upstream connection and the upstream's stream were held for ever,
 * and a SIGTERM drain never finished. A client that takes none of its answer for
 * --upstream-timeout is now cut off, as nginx's send_timeout does; a client that reads, behind
 * an upstream that is slow to send, is not.
 */
const scratch = scratchDir();
let upstream: Server;
let upstreamPort: number;
let stamper: Stamper;
let keys: string;
/** Upstream connections open now. */
const open = new Set<Socket>();

/** Answers `/big` with 64 MiB as fast as the gateway takes it, `/trickle` with 5 bytes 700 ms apart. */
function startUpstream(): Server {
  return createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (data: Buffer) => {
      if (data.toString('latin1').includes(' /trickle ')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
        let sent = 0;
        const timer = setInterval(() => {
          socket.write('x');
          if (++sent === 5) clearInterval(timer);
        }, 700);
        socket.once('close', () => clearInterval(timer));
        return;
      }
      const size = 64 * 1024 * 1024;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let written = 0;
      const pump = (): void => {
        while (written < size && !socket.destroyed) {
          written += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
  });
}

async function startGateway(upstreamTimeoutS: number): Promise<RunningServe> {
  return startServe(
    ['--port', '0', '--keys', keys, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--upstream-timeout', String(upstreamTimeoutS)],
    'gateway',
  );
}

/**
 * Sends a stamped request on a raw connection (a POST with a body: the request's socket is gone
 * from it once the body is read, the answer's is not); `reading` false stops reading once the
 * answer's head is in.
 */
async function request(
  gateway: RunningServe,
  method: 'GET' | 'POST',
  path: string,
  reading: boolean,
): Promise<{ client: Socket; received: () => string; closed: () => boolean }> {
  const client = connect({ host: '127.0.0.1', port: gateway.port });
  client.on('error', () => undefined);
  await new Promise<void>((done) => client.once('connect', done));
  const stamp = await stamper.stamp({ method, url: `${gateway.url}${path}` });
  let received = '';
  let closed = false;
  client.on('close', () => (closed = true));
  client.on('data', (data: Buffer) => {
    received += data.toString('latin1');
    if (!reading && received.includes('\r\n\r\n')) client.pause();
  });
  const body = method === 'POST' ? 'amount=5' : '';
  const framing = method === 'POST' ? `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n` : '';
  client.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\n${framing}Client-IP-Attestation: ${stamp}\r\n\r\n${body}`);
  return { client, received: () => received, closed: () => closed };
}

beforeAll(async () => {
  upstream = startUpstream();
  upstreamPort = await listenOnFreePort(upstream);
  const key = await makeKey('HS256', 'gw-slow-reader');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
  keys = scratch.file('keys.json', { keys: [key.publicJwk] });
}, 30_000);

afterAll(async () => {
  for (const socket of open) socket.destroy();
  await new Promise((done) => upstream.close(done));
  scratch.cleanup();
});

describe('ipstamp gateway: a client that stops reading its answer', () => {
  it('is cut off after --upstream-timeout without progress: the upstream connection is given up, and SIGTERM then exits', async () => {
    const gateway = await startGateway(2);
    try {
      const { client, received } = await request(gateway, 'POST', '/big', false);
      await waitFor('the answer to begin', () => received().startsWith('HTTP/1.1 200 '), 10_000);
      expect(open.size).toBe(1);
      // --upstream-timeout 2: cut off within a few seconds (before: never)
      await waitFor('the upstream connection to be given up', () => open.size === 0, 15_000);
      client.destroy();
      gateway.signal('SIGTERM');
      expect(await Promise.race([gateway.exited, new Promise((done) => setTimeout(() => done('still running'), 10_000))])).toBe(0);
    } finally {
      gateway.signal('SIGKILL');
    }
  }, 60_000);

  // 3.5 s in all, longer than a 3 s cut would allow, in gaps well inside it (a loaded machine may
  // stretch a 700 ms timer, and the gap between chunks is --upstream-timeout's to bound)
  it('a client that reads, behind an upstream slow to send (700 ms a byte, under the 3 s timeout), gets the whole answer', async () => {
    const gateway = await startGateway(3);
    try {
      const { received, closed } = await request(gateway, 'GET', '/trickle', true);
      await waitFor('the whole answer', () => received().endsWith('\r\n\r\nxxxxx'), 20_000);
      expect(received()).toMatch(/^HTTP\/1\.1 200 /);
      expect(closed()).toBe(false);
    } finally {
      await gateway.stop();
    }
  }, 60_000);
});
