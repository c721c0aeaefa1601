import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { buildApp } from './app.js';

/**
 * A body the plugin never saw is unknown, not empty (review of 2026-12-06): a stamp whose `cdg`
 * covers the empty body (what the SDK signs for every bodiless request with `bodyDigest`) was
 * accepted with any body the plugin did not read, and the handler read the unsigned bytes. And
 * a client that reset mid-body while its request was pending errored the tee with nobody
 * listening, which ended the whole process.
 */
const HOST = 'api.example.com';
const EVIL = '{"transfer":"all-funds","to":"mallory"}';
let key: TestKeyPair;
let stamper: Stamper;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  key = await makeKey('HS256', 'client-hs');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A stamp signed for `method path` with no body: its cdg is the empty body's digest. */
const emptyBodyStamp = (method: string, path: string) => stamper.stamp({ method, url: `http://${HOST}${path}` });

describe('a cdg over the empty body binds an empty body only', () => {
  it('a body left to the handler (a streaming parser) is refused, and the handler never reads it', async () => {
    let handlerRan = false;
    ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (pre) => {
      pre.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
      pre.post('/stream', async () => ((handlerRan = true), 'read'));
    }));
    const response = await app.inject({
      method: 'POST',
      url: '/stream',
      headers: { host: HOST, 'content-type': 'application/octet-stream', 'client-ip-attestation': await emptyBodyStamp('POST', '/stream') },
      payload: EVIL,
    });
    expect(response.json().reason).toBe('binding-mismatch');
    expect(response.statusCode).toBe(401);
    expect(handlerRan).toBe(false);
  });

  it('a chunked body to such a parser is refused too', async () => {
    ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }, (pre) => {
      pre.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    }));
    const response = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: {
        host: HOST,
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
        'client-ip-attestation': await emptyBodyStamp('POST', '/orders'),
      },
      payload: Readable.from([Buffer.from(EVIL)]),
    });
    expect(response.json().reason).toBe('binding-mismatch');
  });

  it('a body on GET, which Fastify never parses, is refused; the same GET without a body is accepted', async () => {
    ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }));
    const withBody = await app.inject({
      method: 'GET',
      url: '/orders',
      headers: { host: HOST, 'content-type': 'application/json', 'client-ip-attestation': await emptyBodyStamp('GET', '/orders') },
      payload: EVIL,
    });
    expect(withBody.json().reason).toBe('binding-mismatch');
    const bodiless = await app.inject({
      method: 'GET',
      url: '/orders',
      headers: { host: HOST, 'client-ip-attestation': await emptyBodyStamp('GET', '/orders') },
    });
    expect(bodiless.statusCode).toBe(200);
    expect(bodiless.json().ipStamp.kid).toBe('client-hs');
  });

  it('a POST without a body still binds to its cdg over the empty body', async () => {
    ({ app } = await buildApp({ keys: { keys: [key.publicJwk] } }));
    const response = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { host: HOST, 'client-ip-attestation': await emptyBodyStamp('POST', '/orders') },
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('a body the plugin must not hold', () => {
  /** A server on loopback with ipstamp and the app's own parts; closed after `run`. */
  async function listening(
    setup: { before?: (app: FastifyInstance) => void; after?: (app: FastifyInstance) => void },
    run: (port: number) => Promise<void>,
  ): Promise<void> {
    const server = Fastify();
    setup.before?.(server);
    await server.register(ipstamp, { keys: { keys: [key.publicJwk] } });
    setup.after?.(server);
    server.post('/orders', async () => 'handler');
    server.get('/orders', async (request) => ({ kid: request.ipStamp?.kid }));
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      await run((server.server.address() as AddressInfo).port);
    } finally {
      await server.close();
    }
  }

  it(
    'a large body on a GET (never parsed) is refused, and the next request on the connection is answered: the body is not held paused',
    { timeout: 10_000 },
    async () => {
      await listening({}, async (port) => {
        const url = `http://127.0.0.1:${port}/orders`;
        const body = 'x'.repeat(1_000_000); // far more than the socket and stream buffers hold
        const [first, second] = [await stamper.stamp({ method: 'GET', url, body }), await stamper.stamp({ method: 'GET', url })];
        const statuses = await new Promise<string[]>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port });
          let text = '';
          const statusLines = () => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
          socket.setEncoding('latin1');
          socket.on('error', reject);
          socket.on('data', (chunk: string) => {
            text += chunk;
            if (statusLines().length === 2) socket.end(() => resolve(statusLines()));
          });
          socket.write(`GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nclient-ip-attestation: ${first}\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
          socket.write(`GET /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nclient-ip-attestation: ${second}\r\n\r\n`);
        });
        expect(statuses).toEqual(['HTTP/1.1 401', 'HTTP/1.1 200']);
      });
    },
  );

  it("a client that resets mid-body: the app's own parser reading the tee gets the error, and the request ends", { timeout: 10_000 }, async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let failed!: (code: string) => void;
    const failure = new Promise<string>((resolve) => (failed = resolve));
    await listening(
      {
        before: (app) => {
          app.addContentTypeParser('application/x-thing', { parseAs: 'string' }, (_request, body, done) => done(null, body));
          app.setErrorHandler(async (error: Error & { code?: string }, _request, reply) => {
            failed(error.code ?? error.message);
            return reply.code(400).send();
          });
        },
        // after ipstamp's own preParsing hook: the tee is in place once this one runs
        after: (app) => app.addHook('preParsing', async (_request, _reply, payload) => (arrived(), payload)),
      },
      async (port) => {
        const url = `http://127.0.0.1:${port}/orders`;
        const token = await stamper.stamp({ method: 'POST', url, body: 'y'.repeat(1000) });
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', () => undefined);
        socket.write(
          `POST /orders HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/x-thing\r\nclient-ip-attestation: ${token}\r\ncontent-length: 1000\r\n\r\n${'y'.repeat(10)}`,
        );
        await arrival;
        socket.resetAndDestroy();
        expect(await failure).toBe('ECONNRESET');
      },
    );
  });
});

describe('a client that resets mid-body', () => {
  const APP = resolve(import.meta.dirname, 'reset-body-app.mjs');
  let child: ChildProcess;
  let port: number;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    child = spawn(process.execPath, [APP, JSON.stringify(key.publicJwk)], { stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((done) => child.once('exit', (code) => done(code)));
    const line = await new Promise<string>((done, fail) => {
      createInterface({ input: child.stdout! }).once('line', done);
      child.once('exit', (code) => fail(new Error(`app exited ${code}`)));
    });
    port = (JSON.parse(line) as { port: number }).port;
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

  /** Sends the head and half the body, waits, then resets the connection. */
  function halfAndReset(method: string, path: string, headers: Record<string, string>, bodyLength: number): Promise<void> {
    return new Promise((done) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
      socket.on('error', () => undefined);
      socket.on('close', () => done());
      socket.on('connect', () => {
        const lines = Object.entries({ ...headers, host: HOST, 'content-length': String(bodyLength) }).map(([n, v]) => `${n}: ${v}\r\n`);
        socket.write(`${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
        socket.write(Buffer.alloc(bodyLength >> 1, 0x41));
        // while the key lookup (200 ms in the app) is pending
        setTimeout(() => socket.resetAndDestroy(), 50);
      });
    });
  }

  it('leaves the server running, whatever the method and parser, signed or forged', async () => {
    const forged = `${(await emptyBodyStamp('GET', '/g')).split('.').slice(0, 2).join('.')}.AAAA`;
    await halfAndReset('GET', '/g', { 'client-ip-attestation': forged }, 100_000);
    await halfAndReset('POST', '/stream', { 'client-ip-attestation': forged, 'content-type': 'application/octet-stream' }, 100_000);
    await halfAndReset('GET', '/g', { 'client-ip-attestation': await emptyBodyStamp('GET', '/g') }, 100_000);
    // past the key lookup of every request above
    await new Promise((r) => setTimeout(r, 500));
    const alive = await Promise.race([fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status), exited.then((code) => `exited ${code}`)]);
    expect(alive).toBe(200);
  });
});
