/**
 * `stamp.upgrade` against hostile clients and confused apps: handshakes pipelined behind
 * requests or carrying a body, other upgrade protocols, the connection helpers in front of it
 * (PROXY layer, trusted forwarding header, TLS), a failing store or verifier, a client that
 * never reads its refusal, and the calls an app author may get wrong. test/node/upgrade.test.ts
 * has the feature's own cases.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as connectTls } from 'node:tls';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { context } from '@opentelemetry/api';
import { Agent, WebSocket } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/interceptor.node.js';
import { installProxyProtocol } from '../../server/hints/proxy-connection.js';
import { ipstamp, trackPeerAddresses, type IpStampNodeMiddleware, type Verdict } from '../../server/node/index.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import type { VerifierInstrumentation } from '../../server/verify/instrumentation.js';
import { acceptWebSocket } from '../support/raw-websocket-handshake.js';
import { requireBinary } from '../support/binaries.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { AsyncLocalContextManager, inMemorySdk } from '../support/otel.js';
import { makeTestCertificate } from '../support/tls-certificate.js';
import { exchangeUntilClosed, statusLines } from '../support/raw-exchange.js';

type Outcome = Verdict | null | undefined;

/** A raw exchange from 127.0.0.2 unless told otherwise: the client these tests' stamps name. */
const exchange = (port: number, bytes: string, localAddress = '127.0.0.2'): Promise<string> => exchangeUntilClosed(port, bytes, localAddress);

const servers: Server[] = [];
/** Sockets taken off the HTTP server by an upgrade: its close waits for them. */
const upgraded: Duplex[] = [];
afterEach(async () => {
  for (const socket of upgraded.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('HS256', 'upgrade-hostile');
});

function middleware(options: Partial<Parameters<typeof ipstamp>[0]> = {}): IpStampNodeMiddleware {
  return ipstamp({ keys: { keys: [key.publicJwk] }, ...options });
}

function stampFor(origin: string, ip = '127.0.0.2', path = '/live', bodyDigest?: string): Promise<string> {
  return createStamper({ key: key.privateJwk, ip, bodyDigest: bodyDigest !== undefined }).stamp({ method: 'GET', url: `${origin}${path}`, body: bodyDigest });
}

interface Handshakes {
  port: number;
  origin: string;
  server: Server;
  /** Each handshake's outcome, in order. */
  outcomes: Outcome[];
  /** What Node handed each 'upgrade' listener call as `head`, latin1. */
  heads: string[];
}

/**
 * `server` with an 'upgrade' listener that asks `check` and, told to go on, answers 101 and
 * one text frame "hello", then ends. Plain requests go to `onRequest`.
 */
async function upgrading(server: Server, check: (req: IncomingMessage, socket: Duplex) => Promise<Outcome>): Promise<Handshakes> {
  const handshakes: Handshakes = { port: 0, origin: '', server, outcomes: [], heads: [] };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.push(socket);
    handshakes.heads.push(head.toString('latin1'));
    void check(req, socket).then((outcome) => {
      handshakes.outcomes.push(outcome);
      if (outcome !== undefined) acceptWebSocket(req, socket, { end: true });
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  handshakes.port = (server.address() as AddressInfo).port;
  handshakes.origin = `http://127.0.0.1:${handshakes.port}`;
  return handshakes;
}

function plainServer(onRequest: RequestListener = (_req, res) => void res.end()): Server {
  return trackPeerAddresses(createServer(onRequest));
}

/** A WebSocket handshake's head for `port`, with `headers` added. */
function handshake(port: number, headers: Record<string, string> = {}, path = '/live'): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return (
    `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
    `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n${lines.join('')}\r\n`
  );
}

function problemIn(received: string): unknown {
  return JSON.parse(received.slice(received.lastIndexOf('\r\n\r\n') + 4));
}

/** A memory store that counts its inserts. */
function countingStore(): ReplayStore & { inserts: number } {
  const memory = new MemoryReplayStore();
  const store = {
    inserts: 0,
    insertIfAbsent: (key: string, ttlMs: number) => (store.inserts++, memory.insertIfAbsent(key, ttlMs)),
  };
  return store;
}

describe('stamp.upgrade: what a client can send', () => {
  it('answers the requests pipelined ahead of a refused handshake first, in order, and the refusal last', async () => {
    const stamp = middleware();
    let handedOver: () => void = () => undefined;
    const upgradeSeen = new Promise<void>((resolve) => (handedOver = resolve));
    // /slow answers only once the handshake behind it was handed over (a handler awaiting a database)
    const server = plainServer((req, res) => {
      if (req.url === '/slow') void upgradeSeen.then(() => setImmediate(() => res.end('slow')));
      else res.end('fast');
    });
    server.on('upgrade', () => handedOver());
    const handshakes = await upgrading(server, stamp.upgrade);
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${handshakes.port}\r\n\r\n`;
    const received = await exchange(handshakes.port, get('/slow') + get('/fast') + handshake(handshakes.port));
    expect(statusLines(received)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 401 Unauthorized']);
    expect(received.indexOf('slow')).toBeLessThan(received.indexOf('fast'));
    expect(problemIn(received)).toMatchObject({ reason: 'missing' });
    expect(handshakes.outcomes).toEqual([undefined]);
  });

  it('hands two handshakes back to back to the app once: the second is `head`, its stamp never checked', async () => {
    const replayStore = countingStore();
    const stamp = middleware({ replayStore });
    const handshakes = await upgrading(plainServer(), stamp.upgrade);
    const first = handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin) });
    const second = handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin) });
    const received = await exchange(handshakes.port, first + second);
    expect(statusLines(received)).toEqual(['HTTP/1.1 101 Switching Protocols']);
    expect(handshakes.heads).toEqual([second]);
    expect(replayStore.inserts).toBe(1);
  });

  it.each([
    ['content-length: 10', '0123456789'],
    ['transfer-encoding: chunked', 'a\r\n0123456789\r\n0\r\n\r\n'],
  ])('refuses a cdg on a handshake with a body (%s): Node hands the body over as `head`, never hashed', async (framing, bytes) => {
    const stamp = middleware();
    const handshakes = await upgrading(plainServer(), stamp.upgrade);
    const token = await stampFor(handshakes.origin, '127.0.0.2', '/live', '0123456789');
    const [name, value] = framing.split(': ') as [string, string];
    const received = await exchange(handshakes.port, handshake(handshakes.port, { [name]: value, 'client-ip-attestation': token }) + bytes);
    expect(statusLines(received)).toEqual(['HTTP/1.1 401 Unauthorized']);
    expect(problemIn(received)).toMatchObject({ reason: 'binding-mismatch' });
    expect(handshakes.heads).toEqual([bytes]);
    expect(handshakes.outcomes).toEqual([undefined]);
  });

  it('checks an h2c upgrade as any handshake: unstamped refused, stamped accepted', async () => {
    const stamp = middleware();
    const handshakes = await upgrading(plainServer(), stamp.upgrade);
    const h2c = (headers: string) =>
      `GET /live HTTP/1.1\r\nhost: 127.0.0.1:${handshakes.port}\r\nupgrade: h2c\r\nconnection: Upgrade, HTTP2-Settings\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n${headers}\r\n`;
    const unstamped = await exchange(handshakes.port, h2c(''));
    const stamped = await exchange(handshakes.port, h2c(`client-ip-attestation: ${await stampFor(handshakes.origin)}\r\n`));
    expect([unstamped, stamped].map(statusLines)).toEqual([['HTTP/1.1 401 Unauthorized'], ['HTTP/1.1 101 Switching Protocols']]);
    expect(handshakes.outcomes.map((outcome) => outcome?.ip)).toEqual([undefined, '127.0.0.2']);
  });

  it('destroys a refused socket whose client never reads the answer nor closes, and the server lets go of it', async () => {
    const stamp = middleware();
    const handshakes = await upgrading(plainServer(), stamp.upgrade);
    const closed = new Promise<void>((resolve) => handshakes.server.once('upgrade', (_req, socket: Duplex) => socket.once('close', () => resolve())));
    const client = connect({ host: '127.0.0.1', port: handshakes.port, localAddress: '127.0.0.2' });
    client.on('error', () => undefined);
    client.pause();
    client.write(handshake(handshakes.port));
    await closed;
    const connections = await new Promise<number>((resolve, reject) =>
      handshakes.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
    client.destroy();
    expect(handshakes.outcomes).toEqual([undefined]);
    expect(connections).toBe(0);
  });
});

describe('stamp.upgrade behind the connection helpers', () => {
  it("installProxyProtocol: a trusted proxy's PROXY source is the client; an untrusted peer's PROXY header closes the connection before any handshake", async () => {
    const stamp = middleware({ trustedProxies: ['127.0.0.1'] });
    const server = trackPeerAddresses(installProxyProtocol(createServer(), { trustedProxies: ['127.0.0.1'] }));
    const handshakes = await upgrading(server, stamp.upgrade);
    const proxied = `PROXY TCP4 203.0.113.9 127.0.0.1 40000 ${handshakes.port}\r\n`;
    const token = await stampFor(handshakes.origin, '203.0.113.9');
    const viaProxy = await exchange(handshakes.port, proxied + handshake(handshakes.port, { 'client-ip-attestation': token }), '127.0.0.1');
    const forged = await exchange(
      handshakes.port,
      proxied + handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin, '203.0.113.9') }),
    );
    expect(statusLines(viaProxy)).toEqual(['HTTP/1.1 101 Switching Protocols']);
    expect(forged).toBe('');
    expect(handshakes.outcomes).toHaveLength(1);
    expect(handshakes.outcomes[0]).toMatchObject({ ip: '203.0.113.9', agreement: 'match', hints: { l3: '127.0.0.1', l4: '203.0.113.9', decidedBy: 'l4' } });
  });

  it("trustedProxies: a trusted peer's X-Forwarded-For names the client; an untrusted peer's is ignored", async () => {
    const stamp = middleware({ trustedProxies: ['127.0.0.3'] });
    const handshakes = await upgrading(plainServer(), stamp.upgrade);
    const forwarded = async () => ({ 'x-forwarded-for': '198.51.100.7', 'client-ip-attestation': await stampFor(handshakes.origin, '198.51.100.7') });
    const trusted = await exchange(handshakes.port, handshake(handshakes.port, await forwarded()), '127.0.0.3');
    const untrusted = await exchange(handshakes.port, handshake(handshakes.port, await forwarded()), '127.0.0.2');
    expect([trusted, untrusted].map(statusLines)).toEqual([['HTTP/1.1 101 Switching Protocols'], ['HTTP/1.1 403 Forbidden']]);
    expect(problemIn(untrusted)).toMatchObject({ reason: 'ip-mismatch' });
    expect(handshakes.outcomes[0]).toMatchObject({ ip: '198.51.100.7', agreement: 'match', hints: { decidedBy: 'l7' } });
  });

  const openssl = requireBinary('openssl');
  describe.skipIf(!openssl)('on an https server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipstamp-upgrade-tls-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('opens a wss WebSocket stamped for https: by the interceptor; a stamp for http: is refused', async () => {
      const certificate = makeTestCertificate(openssl!, dir);
      const stamp = middleware();
      const server = trackPeerAddresses(createHttpsServer({ key: readFileSync(certificate.keyFile), cert: certificate.certPem }));
      const handshakes = await upgrading(server, stamp.upgrade);
      const agent = new Agent({ localAddress: '127.0.0.2', connect: { ca: certificate.certPem } });
      const dispatcher = agent.compose(ipstampInterceptor({ key: key.privateJwk, ip: '127.0.0.2' }));
      const message = await new Promise<string>((resolve, reject) => {
        const socket = new WebSocket(`wss://127.0.0.1:${handshakes.port}/live`, { dispatcher });
        socket.onmessage = (event) => resolve(String(event.data));
        socket.onerror = () => reject(new Error('the WebSocket failed'));
      });
      await agent.close();
      // the same handshake over TLS, stamped for the http: origin
      const head = handshake(handshakes.port, { 'client-ip-attestation': await stampFor(`http://127.0.0.1:${handshakes.port}`) });
      const refused = await new Promise<string>((resolve) => {
        const socket = connectTls(
          { socket: connect({ host: '127.0.0.1', port: handshakes.port, localAddress: '127.0.0.2' }), host: '127.0.0.1', ca: certificate.certPem },
          () => socket.write(head),
        );
        let received = '';
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.on('close', () => resolve(received));
      });
      expect(message).toBe('hello');
      expect(statusLines(refused)).toEqual(['HTTP/1.1 401 Unauthorized']);
      expect(problemIn(refused)).toMatchObject({ reason: 'binding-mismatch' });
      expect(handshakes.outcomes.map((outcome) => outcome?.ip)).toEqual(['127.0.0.2', undefined]);
    });
  });
});

describe('stamp.upgrade: what an app author may get wrong', () => {
  it('two upgrade listeners that each check the handshake: one verification, the same verdict, the WebSocket opens', async () => {
    const replayStore = countingStore();
    const stamp = middleware({ replayStore });
    const outcomes: Outcome[] = [];
    const server = plainServer();
    // one listener per path, each checking before it looks at the path
    for (const path of ['/live', '/chat']) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
        upgraded.push(socket);
        void stamp.upgrade(req, socket).then((outcome) => {
          outcomes.push(outcome);
          if (outcome !== undefined && req.url === path) acceptWebSocket(req, socket, { end: true });
        });
      });
    }
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const received = await exchange(port, handshake(port, { 'client-ip-attestation': await stampFor(`http://127.0.0.1:${port}`) }));
    expect(statusLines(received)).toEqual(['HTTP/1.1 101 Switching Protocols']);
    expect(received).toContain('hello');
    expect(outcomes).toHaveLength(2);
    expect(outcomes[0]).toMatchObject({ ip: '127.0.0.2' });
    expect(outcomes[1]).toBe(outcomes[0]);
    expect(replayStore.inserts).toBe(1);
  });

  it('a store that throws or rejects: 503 store-unavailable on the socket, as a request gets it, and undefined', async () => {
    const failing: ReplayStore[] = [
      {
        insertIfAbsent: () => {
          throw new Error('store down');
        },
      },
      { insertIfAbsent: () => Promise.reject(new Error('store down')) },
    ];
    for (const replayStore of failing) {
      const stamp = middleware({ replayStore });
      const handshakes = await upgrading(
        plainServer((req, res) => stamp(req, res, () => res.end())),
        stamp.upgrade,
      );
      const request = await fetch(`${handshakes.origin}/live`, { headers: { 'client-ip-attestation': await stampFor(handshakes.origin, '127.0.0.1') } });
      const received = await exchange(handshakes.port, handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin) }));
      expect(statusLines(received)).toEqual(['HTTP/1.1 503 Service Unavailable']);
      expect([request.status, problemIn(received)]).toEqual([503, await request.json()]);
      expect(problemIn(received)).toMatchObject({ reason: 'store-unavailable' });
      expect(handshakes.outcomes).toEqual([undefined]);
    }
  });

  it('a verifier that throws: upgrade rejects with its error and destroys the socket, nothing written', async () => {
    const broken = new Error('an instrumentation bug');
    const throwing: VerifierInstrumentation = {
      instrumentReplayStore: (store) => store,
      instrumentVerify: () => () => {
        throw broken;
      },
    };
    const stamp = middleware({ telemetry: throwing });
    const server = plainServer();
    const rejected = new Promise<unknown>((resolve) => {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
        upgraded.push(socket);
        stamp.upgrade(req, socket).then(() => resolve('resolved'), resolve);
      });
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const received = await exchange(port, handshake(port, { 'client-ip-attestation': await stampFor(`http://127.0.0.1:${port}`) }));
    expect(await rejected).toBe(broken);
    expect(received).toBe('');
  });

  it('upgrade taken off the middleware unbound, a socket already destroyed, and required: false', async () => {
    const { upgrade } = middleware();
    const loose = middleware({ required: false });
    const handshakes = await upgrading(plainServer(), (req, socket) => {
      if (req.url === '/destroyed') socket.destroy();
      return req.url === '/loose' ? loose.upgrade(req, socket) : upgrade(req, socket);
    });
    const unbound = await exchange(handshakes.port, handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin) }));
    const destroyed = await exchange(
      handshakes.port,
      handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin, '127.0.0.2', '/destroyed') }, '/destroyed'),
    );
    const unstamped = await exchange(handshakes.port, handshake(handshakes.port, {}, '/loose'));
    expect([unbound, destroyed, unstamped].map(statusLines)).toEqual([['HTTP/1.1 101 Switching Protocols'], [], ['HTTP/1.1 101 Switching Protocols']]);
    expect(handshakes.outcomes.map((outcome) => (outcome === null ? null : outcome?.ip))).toEqual(['127.0.0.2', undefined, null]);
  });

  it('counts in telemetry as a request does: one span and one point per handshake, accepted then replay', async () => {
    context.setGlobalContextManager(new AsyncLocalContextManager());
    const sdk = inMemorySdk();
    try {
      const stamp = middleware({ telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }) });
      const handshakes = await upgrading(plainServer(), stamp.upgrade);
      const head = handshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.origin) });
      const answers = [await exchange(handshakes.port, head), await exchange(handshakes.port, head)];
      expect(answers.map(statusLines)).toEqual([['HTTP/1.1 101 Switching Protocols'], ['HTTP/1.1 401 Unauthorized']]);
      const { spans: SPAN, attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
      const spans = sdk.spans();
      expect(spans.map((span) => span.name)).toEqual([SPAN.replayStoreInsert, SPAN.verify, SPAN.replayStoreInsert, SPAN.verify]);
      expect(spans[1]!.attributes).toMatchObject({ [ATTR.outcome]: 'accepted', [ATTR.clientAddress]: '127.0.0.2' });
      expect(spans[3]!.attributes).toMatchObject({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'replay' });
      const points = await sdk.points(METRIC.requests);
      expect(points.map((point) => [point.attributes[ATTR.outcome], point.value])).toEqual([
        ['accepted', 1],
        ['rejected', 1],
      ]);
    } finally {
      await sdk.shutdown();
      context.disable();
    }
  });
});
