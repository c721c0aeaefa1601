import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { continueExchange, finalOnKeptConnection, rawExchange } from './raw-http.js';

/**
 * `Expect: 100-continue` on serve and gateway, at the edges: pipelining, clients that do not wait
 * for the 100, bodiless requests, the body limit and the PROXY protocol.
 */

const scratch = scratchDir();
let key: TestKeyPair;
let serve: RunningServe;
let gateway: RunningServe;
let proxied: RunningServe;
let upstream: Server;
const held: (() => void)[] = [];
const arrivals: { connection?: () => void } = {};

beforeAll(async () => {
  key = await makeKey('ES256', 'continue-edges');
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  upstream = createServer((req, res) => {
    // /hold answers only once the test releases it
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (): void => void res.end(`upstream got ${Buffer.concat(chunks).length} bytes`);
      if (req.url === '/hold') held.push(answer);
      else answer();
    });
  });
  // the gateway opens a connection to the upstream when it is about to forward (and read) a body
  upstream.on('connection', () => arrivals.connection?.());
  const upstreamPort = await listenOnFreePort(upstream);
  [serve, gateway, proxied] = await Promise.all([
    startServe(['--port', '0', '--keys', keys]),
    startServe(['--port', '0', '--keys', keys, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--body-limit', '1024'], 'gateway'),
    startServe(['--port', '0', '--keys', keys, '--proxy-protocol', '--trusted-proxies', '127.0.0.1/32']),
  ]);
});
afterAll(async () => {
  await Promise.all([serve?.stop(), gateway?.stop(), proxied?.stop()]);
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

function stampFor(base: string, path: string, options: { method?: string; body?: string } = {}): Promise<string> {
  const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: options.body !== undefined });
  return stamper.stamp({ method: options.method ?? 'PUT', url: `${base}${path}`, body: options.body });
}

describe('gateway', () => {
  it('pipelined behind a request still in flight: the 100 of the next one never lands inside its final answer', async () => {
    const { port, url } = gateway;
    const [first, next] = await Promise.all([stampFor(url, '/hold', { method: 'GET' }), stampFor(url, '/next')]);
    const body = 'z'.repeat(64);
    const exchange = await rawExchange(
      port,
      (socket) => {
        // a pipelining client; the 100 for /next cannot come before /hold's answer, so it stops
        // waiting and sends the body (RFC 9110 §10.1.1) — here, once the gateway is about to
        // read it (it opened a second upstream connection, for /next: /hold holds the first)
        let connections = 0;
        arrivals.connection = () => {
          if (++connections < 2) return;
          socket.write(body);
          // /hold is answered once /next's answer has been written behind it
          setTimeout(() => held.shift()?.(), 300);
        };
        socket.write(
          `GET /hold HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nClient-IP-Attestation: ${first}\r\n\r\n` +
            `PUT /next HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: ${body.length}\r\nClient-IP-Attestation: ${next}\r\n\r\n`,
        );
      },
      { giveUpMs: 3000 },
    );
    delete arrivals.connection;
    // each body is exactly the upstream's: a 100 inside one would shift the framing
    const finals = exchange.responses.filter((r) => r.status >= 200);
    expect(finals.map((r) => [r.status, r.body])).toEqual([
      [200, 'upstream got 0 bytes'],
      [200, 'upstream got 64 bytes'],
    ]);
    expect(exchange.text).not.toMatch(/\r\n\r\n[^H]*HTTP\/1\.1 100 Continue/);
  });

  it('a client that sends its body without waiting for the 100 keeps its connection after a 200', async () => {
    const { port, url } = gateway;
    const token = await stampFor(url, '/eager');
    const exchange = await rawExchange(
      port,
      `PUT /eager HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nClient-IP-Attestation: ${token}\r\n\r\nhello`,
      { giveUpMs: 1000 },
    );
    const final = finalOnKeptConnection(exchange);
    expect([final.status, final.body]).toEqual([200, 'upstream got 5 bytes']);
  });

  it('a stamped GET with Expect and no body keeps its connection (nothing to wait for)', async () => {
    const { port, url } = gateway;
    const token = await stampFor(url, '/bodiless', { method: 'GET' });
    const exchange = await rawExchange(
      port,
      `GET /bodiless HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
      { giveUpMs: 1000 },
    );
    const final = finalOnKeptConnection(exchange);
    expect(final.status).toBe(200);
  });

  it('a stamp with cdg and a declared Content-Length over --body-limit: 413 with no 100, the body never sent', async () => {
    const { port, url } = gateway;
    const body = 'b'.repeat(2048);
    const got = await continueExchange(port, {
      path: '/big',
      body,
      headers: [`Client-IP-Attestation: ${await stampFor(url, '/big', { body })}`],
      close: false,
    });
    expect([got.final?.status, got.continued, got.bodySent, got.closed]).toEqual([413, false, false, true]);
  });

  it('keep-alive after a 100 and a full body: a second Expect request on the same connection gets its own 100', async () => {
    const { port, url } = gateway;
    const [one, two] = await Promise.all([stampFor(url, '/one'), stampFor(url, '/two')]);
    const exchange = await rawExchange(
      port,
      (socket) => {
        const head = (path: string, token: string, close: boolean): string =>
          `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\n${close ? 'Connection: close\r\n' : ''}Content-Length: 5\r\nClient-IP-Attestation: ${token}\r\n\r\n`;
        socket.write(head('/one', one, false));
        let seen = '';
        let step = 0;
        socket.on('data', (d: string) => {
          seen += d;
          const continues = seen.split('HTTP/1.1 100 Continue').length - 1;
          const finals = seen.split('HTTP/1.1 200 OK').length - 1;
          if (step === 0 && continues === 1) {
            step = 1;
            socket.write('first');
          } else if (step === 1 && finals === 1 && seen.endsWith('bytes')) {
            step = 2;
            socket.write(head('/two', two, true));
          } else if (step === 2 && continues === 2) {
            step = 3;
            socket.write('again');
          }
        });
      },
      { giveUpMs: 3000 },
    );
    expect(exchange.responses.map((r) => r.status)).toEqual([100, 200, 100, 200]);
    expect(exchange.closed).toBe(true);
  });
});

describe('serve', () => {
  it('a client that sends its body without waiting for the 100 keeps its connection after a 200 (serve reads at once)', async () => {
    const { port, url } = serve;
    const token = await stampFor(url, '/eager');
    const exchange = await rawExchange(
      port,
      `PUT /eager HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nClient-IP-Attestation: ${token}\r\n\r\nhello`,
      { giveUpMs: 1000 },
    );
    const final = finalOnKeptConnection(exchange);
    expect(final.status).toBe(200);
  });

  it('with --proxy-protocol: the 100 is deferred too (refused stampless: no 100; stamped: 100, then 200)', async () => {
    const { port, url } = proxied;
    const proxyLine = `PROXY TCP4 198.51.100.7 127.0.0.1 40000 ${port}\r\n`;
    const refused = await rawExchange(port, `${proxyLine}PUT /p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`, {
      giveUpMs: 1000,
    });
    expect(refused.responses.map((r) => r.status)).toEqual([401]);
    expect(refused.closed).toBe(true);
    const token = await createStamper({ key: key.privateJwk, ip: '198.51.100.7' }).stamp({ method: 'PUT', url: `${url}/p` });
    const accepted = await rawExchange(
      port,
      (socket) => {
        socket.write(
          `${proxyLine}PUT /p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 5\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
        );
        let sent = false;
        socket.on('data', (d: string) => {
          if (sent || !d.startsWith('HTTP/1.1 100')) return;
          sent = true;
          socket.write('hello');
        });
      },
      { giveUpMs: 3000 },
    );
    expect(accepted.responses.map((r) => r.status)).toEqual([100, 200]);
    expect(JSON.parse(accepted.responses[1]!.body)).toMatchObject({ ip: '198.51.100.7' });
  });
});
