import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { header, rawExchange, type RawExchange } from './raw-http.js';
import { waitFor } from './stamped-traffic.js';

/**
 * `ipstamp serve` and `gateway` from start to exit, over raw connections: the PROXY protocol's
 * trust, --body-limit without --upstream, readiness, the drain on SIGINT (as on SIGTERM), the
 * second signal, and a start that fails. Waits are bounded (GIVE_UP_MS), never timed.
 */
const GIVE_UP_MS = 15_000;
const TEST_MS = 30_000;
/** Not a trusted proxy in the first describe: served plain HTTP. */
const PEER = '127.0.0.2';
const scratch = scratchDir();
let key: TestKeyPair;
let keysFile: string;

beforeAll(async () => {
  key = await makeKey('ES256', 'lifecycle-es');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
});
afterAll(() => scratch.cleanup());

/** A request as bytes: `lines` are header lines; the body is declared with its length. */
function requestText(method: string, path: string, port: number, lines: string[], body = ''): string {
  const length = body === '' && method === 'GET' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`];
  return [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...lines, ...length, '', body].join('\r\n');
}

async function stamp(port: number, method: string, path: string, ip: string, body?: string): Promise<string> {
  return createStamper({ key: key.privateJwk, ip, bodyDigest: body !== undefined }).stamp({ method, url: `http://127.0.0.1:${port}${path}`, body });
}

describe('serve --proxy-protocol --trusted-proxies 127.0.0.1 --body-limit 1024', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    serve = await startServe(['--port', '0', '--keys', keysFile, '--proxy-protocol', '--trusted-proxies', '127.0.0.1', '--body-limit', '1024']);
  });
  afterAll(async () => {
    await serve?.stop();
  });

  const ready = (port: number) => requestText('GET', '/.well-known/ipstamp/ready', port, ['Connection: close']);

  it('readiness answers any peer 200 {"ready":true}, never to be cached', async () => {
    const { responses } = await rawExchange(serve.port, ready(serve.port), { localAddress: PEER });
    expect(responses.map((r) => [r.status, r.body, header(r, 'cache-control')])).toEqual([[200, '{"ready":true}', 'no-store']]);
  });

  it('a trusted proxy must send its PROXY header: a connection from it without one is closed unanswered', async () => {
    const bare = await rawExchange(serve.port, ready(serve.port));
    expect([bare.closed, bare.text]).toEqual([true, '']);
    const proxied = await rawExchange(serve.port, `PROXY TCP4 198.51.100.7 127.0.0.1 5555 ${serve.port}\r\n${ready(serve.port)}`);
    expect(proxied.responses.map((r) => r.status)).toEqual([200]);
  });

  it('--body-limit holds without --upstream: a signed body of the limit is read, one byte more is 413 body-too-large', async () => {
    const post = async (body: string): Promise<RawExchange> => {
      const token = await stamp(serve.port, 'POST', '/upload', PEER, body);
      const lines = ['Connection: close', 'Content-Type: application/octet-stream', `Client-IP-Attestation: ${token}`];
      return rawExchange(serve.port, requestText('POST', '/upload', serve.port, lines, body), { localAddress: PEER });
    };
    const atLimit = await post('x'.repeat(1024));
    expect(atLimit.responses.map((r) => [r.status, JSON.parse(r.body).ip])).toEqual([[200, PEER]]);
    const over = await post('x'.repeat(1025));
    expect(over.responses.map((r) => [r.status, header(r, 'content-type'), JSON.parse(r.body).reason])).toEqual([
      [413, 'application/problem+json', 'body-too-large'],
    ]);
  });

  it(
    'a second SIGTERM during the drain ends the process at once',
    async () => {
      // a body still arriving holds the drain (for --request-timeout, 30 s here)
      const body = 'y'.repeat(100);
      const token = await stamp(serve.port, 'POST', '/slow', PEER, body);
      const head = requestText('POST', '/slow', serve.port, ['Content-Type: text/plain', `Client-IP-Attestation: ${token}`], body);
      const slow = rawExchange(serve.port, (socket) => socket.write(head.slice(0, head.length - 90)), { localAddress: PEER, giveUpMs: GIVE_UP_MS });
      // a round trip on another connection: the server has taken the slow one in by then
      expect((await rawExchange(serve.port, ready(serve.port), { localAddress: PEER })).responses[0]?.status).toBe(200);
      serve.signal('SIGTERM');
      await waitFor('the drain to begin', () => /SIGTERM, shutting down/.test(serve.output()), GIVE_UP_MS);
      serve.signal('SIGTERM');
      let giveUp: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (giveUp = setTimeout(() => resolve('hung'), GIVE_UP_MS)));
      // null: ended by the signal itself, not by a drain that finished
      expect(await Promise.race([serve.exited, hung])).toBe(null);
      clearTimeout(giveUp);
      expect((await slow).closed).toBe(true);
    },
    TEST_MS,
  );
});

describe('gateway: the drain on SIGINT', () => {
  let upstream: Server;
  let upstreamPort: number;
  const streams: ServerResponse[] = [];
  beforeAll(async () => {
    // /stream: the head and a first chunk at once, the rest when the test says
    upstream = createServer((req, res) => {
      req.resume();
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        streams.push(res);
      } else req.on('end', () => res.end('whole'));
    });
    upstreamPort = await listenOnFreePort(upstream);
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it(
    'finishes what is in flight: an answer whose head went out before the drain, then its idle connection is closed; a body still arriving gets its --request-timeout; then exit 0',
    async () => {
      const gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`], 'gateway');
      const { port } = gateway;
      try {
        // keep-alive: nothing asks the server to close this connection
        let streamed = '';
        const streamToken = await stamp(port, 'GET', '/stream', '127.0.0.1');
        const stream = rawExchange(
          port,
          (socket) => {
            socket.on('data', (d: string) => (streamed += d));
            socket.write(requestText('GET', '/stream', port, [`Client-IP-Attestation: ${streamToken}`]));
          },
          { giveUpMs: GIVE_UP_MS },
        );
        await waitFor('the head and first chunk of /stream', () => streamed.includes('first;'), GIVE_UP_MS);

        // a signed body, read before it is verified: 5 of its 10 bytes now
        const body = '0123456789';
        const uploadToken = await stamp(port, 'POST', '/upload', '127.0.0.1', body);
        const upload = requestText('POST', '/upload', port, ['Content-Type: text/plain', `Client-IP-Attestation: ${uploadToken}`], body);
        let uploadSocket: Socket | undefined;
        const uploading = rawExchange(port, (socket) => ((uploadSocket = socket), socket.write(upload.slice(0, -5))), { giveUpMs: GIVE_UP_MS });
        expect((await fetch(`${gateway.url}/.well-known/ipstamp/ready`)).status).toBe(200);

        gateway.signal('SIGINT');
        await waitFor('the drain to begin', () => /SIGINT, shutting down/.test(gateway.output()), GIVE_UP_MS);
        // two of the drain's checks of arrivals (one a second): the upload is not cut short
        await new Promise((resolve) => setTimeout(resolve, 2500));
        uploadSocket!.write(upload.slice(-5));
        const uploaded = await uploading;
        expect(uploaded.responses.map((r) => [r.status, r.body, header(r, 'connection')])).toEqual([[200, 'whole', 'close']]);
        expect(uploaded.closed).toBe(true);

        streams.at(-1)!.end('last');
        const finished = await stream;
        // its head went out before the drain: no Connection: close there, the server closes it anyway
        expect(finished.responses.map((r) => [r.status, r.body, header(r, 'connection')])).toEqual([[200, 'first;last', 'keep-alive']]);
        expect(finished.closed, 'the idle keep-alive connection was still open').toBe(true);

        let giveUp: NodeJS.Timeout | undefined;
        const hung = new Promise<'hung'>((resolve) => (giveUp = setTimeout(() => resolve('hung'), GIVE_UP_MS)));
        expect(await Promise.race([gateway.exited, hung])).toBe(0);
        clearTimeout(giveUp);
      } finally {
        await gateway.stop();
      }
    },
    TEST_MS * 2,
  );
});

describe('a start that fails', () => {
  it(
    'with a Redis replay store: exit 1 with one line, the store closed (no hang on its reconnections)',
    async () => {
      const taken = createTcpServer();
      const port = await listenOnFreePort(taken);
      try {
        const result = await runCli(['serve', '--keys', keysFile, '--port', String(port), '--replay-store', 'redis://127.0.0.1:1'], { timeoutMs: GIVE_UP_MS });
        expect([result.code, result.stderr]).toEqual([
          1,
          `ipstamp serve: cannot start: EADDRINUSE listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`,
        ]);
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    },
    TEST_MS,
  );
});
