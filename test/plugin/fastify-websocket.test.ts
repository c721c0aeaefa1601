/**
 * WebSocket routes served by @fastify/websocket behind the plugin. @fastify/websocket routes
 * each upgrade through Fastify itself (a ServerResponse on the raw socket), so the plugin's
 * hooks check the handshake as they check a request, and a refusal is the reply they send;
 * after it, @fastify/websocket's onResponse hook destroys the socket. docs/fastify.md,
 * "WebSocket routes (@fastify/websocket)".
 */
import { connect, type AddressInfo, type Socket } from 'node:net';
import { context } from '@opentelemetry/api';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { Agent, WebSocket } from 'undici';
import WsClient from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/interceptor.node.js';
import { ipstamp, type IpStampPluginOptions } from '../../server/fastify/plugin.js';
import { createProxyProtocolServer } from '../../server/hints/proxy-connection.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import type { Verdict } from '../../server/verify/types.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { AsyncLocalContextManager, inMemorySdk } from '../support/otel.js';
import { rawWebSocketHandshake, type HandshakeAnswer } from '../support/raw-websocket-handshake.js';
import { signRaw } from '../support/sign-raw.js';

let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('HS256', 'fastify-websocket');
});

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

interface WebSocketApp {
  app: FastifyInstance;
  port: number;
  origin: string;
  /** What each WebSocket handler call found on `request.ipStamp`, in order: only opened sockets get here. */
  opened: (Verdict | null)[];
}

/**
 * An app with @fastify/websocket and the plugin, and WebSocket routes whose handler says
 * "hello <ip> (<agreement>)", or "hello nobody" without a verdict, and closes: `/live`
 * (required), `/loose` (`{ required: false }`), `/open` (`false`), and `/both`, a GET route
 * with a `wsHandler` whose plain handler answers with the verdict's address.
 */
async function webSocketApp(
  options: Partial<IpStampPluginOptions> = {},
  { serverFactory, ipstampFirst = false }: { serverFactory?: FastifyServerFactory; ipstampFirst?: boolean } = {},
): Promise<WebSocketApp> {
  const app = Fastify(serverFactory ? { serverFactory } : {});
  apps.push(app);
  if (!ipstampFirst) await app.register(websocket);
  await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, ...options });
  if (ipstampFirst) await app.register(websocket);
  const opened: (Verdict | null)[] = [];
  const hello = (socket: WsClient, request: { ipStamp: Verdict | null }): void => {
    opened.push(request.ipStamp);
    const verdict = request.ipStamp;
    socket.send(verdict === null ? 'hello nobody' : `hello ${verdict.ip} (${verdict.agreement})`);
    socket.close();
  };
  app.get('/live', { websocket: true }, hello);
  app.get('/loose', { websocket: true, config: { ipstamp: { required: false } } }, hello);
  app.get('/open', { websocket: true, config: { ipstamp: false } }, hello);
  app.route({ method: 'GET', url: '/both', handler: async (request) => ({ ip: request.ipStamp?.ip ?? null }), wsHandler: hello });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  return { app, port, origin: `http://127.0.0.1:${port}`, opened };
}

function stampFor(origin: string, { ip = '127.0.0.2', path = '/live', body }: { ip?: string; path?: string; body?: string } = {}): Promise<string> {
  return createStamper({ key: key.privateJwk, ip, bodyDigest: body !== undefined }).stamp({ method: 'GET', url: `${origin}${path}`, body });
}

/** A raw handshake from 127.0.0.2 (test/support/raw-websocket-handshake.ts). */
function rawHandshake(
  origin: string,
  headers: Record<string, string>,
  path = '/live',
  options: { until?: string; extra?: string } = {},
): Promise<HandshakeAnswer> {
  return rawWebSocketHandshake(`${origin}${path}`, headers, { until: 'hello', ...options });
}

/** A WebSocket handshake's head for `port`, with `headers` added. */
function handshake(port: number, headers: Record<string, string> = {}, path = '/live'): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return (
    `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
    `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n${lines.join('')}\r\n`
  );
}

/**
 * Writes `bytes` from `localAddress` and reads until the server closes the connection, or
 * until a 101 is followed by the handler's "hello" (ws then awaits a close frame that never
 * comes): everything that came back.
 */
function untilClosed(port: number, bytes: string, localAddress = '127.0.0.2'): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.startsWith('HTTP/1.1 101 ') && received.includes('hello')) socket.destroy();
    });
    socket.on('close', () => resolve(received));
    socket.write(bytes);
  });
}

function statusLines(received: string): string[] {
  return received.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];
}

function connectionsOf(app: FastifyInstance): Promise<number> {
  return new Promise((resolve, reject) => app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** A memory store that counts its inserts; after `hold()`, the next insert waits for `release()` (`seen`: answer "already used"). */
function countingStore(): ReplayStore & { inserts: number; hold(): Promise<void>; release(seen?: boolean): void } {
  const memory = new MemoryReplayStore();
  let asked: (() => void) | undefined;
  let release = (_seen: boolean): void => undefined;
  const store = {
    inserts: 0,
    insertIfAbsent(id: string, ttlMs: number): boolean | Promise<boolean> {
      store.inserts++;
      const held = asked;
      asked = undefined;
      if (held === undefined) return memory.insertIfAbsent(id, ttlMs);
      held();
      return new Promise<boolean>((resolve) => (release = (seen) => resolve(!seen && (memory.insertIfAbsent(id, ttlMs) as boolean))));
    },
    hold: () => new Promise<void>((resolve) => (asked = resolve)),
    release: (seen = false) => release(seen),
  };
  return store;
}

describe('@fastify/websocket routes behind the plugin: the handshake is verified', () => {
  it("opens a stamped handshake from undici's WebSocket (interceptor) and from ws (createStamper, http: form); the handler's request has the verdict", async () => {
    const { origin, opened } = await webSocketApp();
    const dispatcher = new Agent({ localAddress: '127.0.0.2' }).compose(ipstampInterceptor({ key: key.privateJwk, ip: '127.0.0.2' }));
    const undiciSocket = new WebSocket(`${origin.replace(/^http:/, 'ws:')}/live`, { dispatcher });
    const fromUndici = await new Promise<string>((resolve, reject) => {
      undiciSocket.onmessage = (event) => resolve(String(event.data));
      undiciSocket.onerror = () => reject(new Error('the undici WebSocket failed'));
    });
    await dispatcher.close();

    const wsSocket = new WsClient(`${origin.replace(/^http:/, 'ws:')}/live`, {
      headers: { 'client-ip-attestation': await stampFor(origin) },
      localAddress: '127.0.0.2',
    });
    const fromWs = await new Promise<string>((resolve, reject) => {
      wsSocket.once('message', (data: Buffer) => resolve(data.toString()));
      wsSocket.once('error', reject);
    });
    wsSocket.close();

    expect([fromUndici, fromWs]).toEqual(['hello 127.0.0.2 (match)', 'hello 127.0.0.2 (match)']);
    expect(opened).toHaveLength(2);
    expect(opened[0]).toMatchObject({ ip: '127.0.0.2', agreement: 'match', kid: key.kid, hints: { l3: '127.0.0.2', decidedBy: 'l3' } });
  });

  it('refuses unstamped, replayed, forged-address and wrong-path handshakes with the bytes a refused request gets; no 101, no handler, the connection closed', async () => {
    const { app, port, origin, opened } = await webSocketApp();
    const stamp = await stampFor(origin);
    const opens = await rawHandshake(origin, { 'client-ip-attestation': stamp });
    const refused = {
      missing: await untilClosed(port, handshake(port)),
      replay: await untilClosed(port, handshake(port, { 'client-ip-attestation': stamp })),
      'ip-mismatch': await untilClosed(port, handshake(port, { 'client-ip-attestation': await stampFor(origin, { ip: '198.51.100.7' }) })),
      'binding-mismatch': await untilClosed(port, handshake(port, { 'client-ip-attestation': await stampFor(origin, { path: '/both' }) })),
    };
    // the same refusals of plain requests to the same route
    const request = (headers: Record<string, string>) =>
      untilClosed(
        port,
        `GET /live HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\n${Object.entries(headers)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join('')}\r\n`,
      );
    const asRequests = {
      missing: await request({}),
      replay: await request({ 'client-ip-attestation': stamp }),
      'ip-mismatch': await request({ 'client-ip-attestation': await stampFor(origin, { ip: '198.51.100.7' }) }),
      'binding-mismatch': await request({ 'client-ip-attestation': await stampFor(origin, { path: '/both' }) }),
    };

    expect(opens.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    const bodyOf = (received: string) => received.slice(received.indexOf('\r\n\r\n') + 4);
    const headOf = (received: string) => received.slice(0, received.indexOf('\r\n\r\n')).toLowerCase();
    for (const [reason, received] of Object.entries(refused)) {
      expect(statusLines(received), reason).toEqual([statusLines(asRequests[reason as keyof typeof asRequests])[0]]);
      expect(bodyOf(received), reason).toBe(bodyOf(asRequests[reason as keyof typeof asRequests]));
      expect(JSON.parse(bodyOf(received)), reason).toMatchObject({ reason });
      expect(headOf(received), reason).toContain('content-type: application/problem+json');
      expect(headOf(received), reason).toContain('cache-control: no-store');
    }
    expect(Object.values(refused).map((received) => statusLines(received)[0])).toEqual([
      'HTTP/1.1 401 Unauthorized',
      'HTTP/1.1 401 Unauthorized',
      'HTTP/1.1 403 Forbidden',
      'HTTP/1.1 401 Unauthorized',
    ]);
    expect(opened.map((verdict) => verdict?.ip)).toEqual(['127.0.0.2']);
    await expect.poll(() => connectionsOf(app), { timeout: 10_000 }).toBe(0);
  });

  it('the same with the plugin registered before @fastify/websocket', async () => {
    const { origin, opened } = await webSocketApp({}, { ipstampFirst: true });
    const unstamped = await rawHandshake(origin, {});
    const stamped = await rawHandshake(origin, { 'client-ip-attestation': await stampFor(origin) });
    expect([unstamped.statusLine, stamped.statusLine]).toEqual(['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 101 Switching Protocols']);
    expect(stamped.body).toContain('hello 127.0.0.2 (match)');
    expect(opened.map((verdict) => verdict?.ip)).toEqual(['127.0.0.2']);
  });

  it("ws sees a refusal as 'unexpected-response' with the status and the problem+json body", async () => {
    const { origin, opened } = await webSocketApp();
    const client = new WsClient(`${origin.replace(/^http:/, 'ws:')}/live`, { localAddress: '127.0.0.2' });
    client.on('error', () => undefined);
    const refusal = await new Promise<{ status?: number; type?: string; body: string }>((resolve) => {
      client.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode, type: response.headers['content-type'], body }));
      });
    });
    expect(refusal).toEqual({
      status: 401,
      type: 'application/problem+json',
      body: '{"type":"urn:ipstamp:missing","title":"Client IP attestation required","status":401,"reason":"missing"}',
    });
    expect(opened).toEqual([]);
  });
});

describe("@fastify/websocket routes: each route's config.ipstamp", () => {
  it('{ required: false } opens an unstamped handshake with ipStamp null and still refuses a bad stamp; false verifies nothing', async () => {
    const { origin, opened } = await webSocketApp();
    const answers = [
      await rawHandshake(origin, {}, '/loose'),
      await rawHandshake(origin, { 'client-ip-attestation': await stampFor(origin, { path: '/loose', ip: '198.51.100.7' }) }, '/loose'),
      await rawHandshake(origin, {}, '/open'),
      await rawHandshake(origin, { 'client-ip-attestation': 'e30.e30.AAAA' }, '/open'),
    ];
    expect(answers.map((answer) => answer.statusLine)).toEqual([
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.1 403 Forbidden',
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.1 101 Switching Protocols',
    ]);
    for (const opens of [answers[0]!, answers[2]!, answers[3]!]) expect(opens.body).toContain('hello nobody');
    expect(JSON.parse(answers[1]!.body)).toMatchObject({ reason: 'ip-mismatch' });
    expect(opened).toEqual([null, null, null]);
  });

  it('a GET route with a wsHandler: the plain request and the handshake on its path are both verified', async () => {
    const { origin, opened } = await webSocketApp();
    const plainUnstamped = await fetch(`${origin}/both`);
    const plainStamped = await fetch(`${origin}/both`, {
      headers: { 'client-ip-attestation': await stampFor(origin, { path: '/both', ip: '127.0.0.1' }) },
    });
    const unstamped = await rawHandshake(origin, {}, '/both');
    const stamped = await rawHandshake(origin, { 'client-ip-attestation': await stampFor(origin, { path: '/both' }) }, '/both');
    expect([plainUnstamped.status, plainStamped.status]).toEqual([401, 200]);
    expect(await plainStamped.json()).toEqual({ ip: '127.0.0.1' });
    expect([unstamped.statusLine, stamped.statusLine]).toEqual(['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 101 Switching Protocols']);
    expect(unstamped.body).toBe(await plainUnstamped.text());
    expect(stamped.body).toContain('hello 127.0.0.2 (match)');
    expect(opened.map((verdict) => verdict?.ip)).toEqual(['127.0.0.2']);
  });
});

describe('@fastify/websocket routes: the plugin’s other layers', () => {
  it("trustedProxies: a trusted peer's X-Forwarded-For names the client; an untrusted peer's is ignored", async () => {
    const { port, origin, opened } = await webSocketApp({ trustedProxies: ['127.0.0.3'] });
    const forwarded = async () => ({ 'x-forwarded-for': '198.51.100.7', 'client-ip-attestation': await stampFor(origin, { ip: '198.51.100.7' }) });
    const trusted = await untilClosed(port, handshake(port, await forwarded()), '127.0.0.3');
    const untrusted = await untilClosed(port, handshake(port, await forwarded()), '127.0.0.2');
    expect([trusted, untrusted].map((received) => statusLines(received)[0])).toEqual(['HTTP/1.1 101 Switching Protocols', 'HTTP/1.1 403 Forbidden']);
    expect(untrusted).toContain('"reason":"ip-mismatch"');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ ip: '198.51.100.7', agreement: 'match', hints: { l3: '127.0.0.3', decidedBy: 'l7' } });
  });

  it("the PROXY protocol (serverFactory): a trusted proxy's PROXY source is the client; an untrusted peer's PROXY header gets nothing", async () => {
    const trustedProxies = ['127.0.0.1'];
    const { port, origin, opened } = await webSocketApp(
      { trustedProxies },
      { serverFactory: (handler) => createProxyProtocolServer(handler, { trustedProxies }) },
    );
    const proxied = `PROXY TCP4 203.0.113.9 127.0.0.1 40000 ${port}\r\n`;
    const viaProxy = await untilClosed(
      port,
      proxied + handshake(port, { 'client-ip-attestation': await stampFor(origin, { ip: '203.0.113.9' }) }),
      '127.0.0.1',
    );
    const forged = await untilClosed(port, proxied + handshake(port, { 'client-ip-attestation': await stampFor(origin, { ip: '203.0.113.9' }) }), '127.0.0.2');
    expect(statusLines(viaProxy)).toEqual(['HTTP/1.1 101 Switching Protocols']);
    expect(forged).toBe('');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ ip: '203.0.113.9', agreement: 'match', hints: { l3: '127.0.0.1', l4: '203.0.113.9', decidedBy: 'l4' } });
  });

  it("counts handshakes as requests: app.ipstamp.metrics() and OpenTelemetry's spans and points, accepted then replay then missing", async () => {
    context.setGlobalContextManager(new AsyncLocalContextManager());
    const sdk = inMemorySdk();
    try {
      const { app, port, origin } = await webSocketApp({ telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }) });
      const head = handshake(port, { 'client-ip-attestation': await stampFor(origin) });
      const answers = [await untilClosed(port, head), await untilClosed(port, head), await untilClosed(port, handshake(port))];
      expect(answers.map((received) => statusLines(received)[0])).toEqual([
        'HTTP/1.1 101 Switching Protocols',
        'HTTP/1.1 401 Unauthorized',
        'HTTP/1.1 401 Unauthorized',
      ]);
      expect(app.ipstamp.metrics()).toMatchObject({
        accepted: { match: 1, mismatch: 0, unverifiable: 0 },
        rejected: { replay: 1, missing: 1 },
        unstamped: 0,
      });
      const { spans: SPAN, attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
      expect(
        sdk
          .spans()
          .filter((span) => span.name === SPAN.verify)
          .map((span) => [span.attributes[ATTR.outcome], span.attributes[ATTR.reason]]),
      ).toEqual([
        ['accepted', undefined],
        ['rejected', 'replay'],
        ['rejected', 'missing'],
      ]);
      const points = await sdk.points(METRIC.requests);
      expect(points.map((point) => [point.attributes[ATTR.outcome], point.attributes[ATTR.reason], point.value])).toEqual([
        ['accepted', undefined, 1],
        ['rejected', 'replay', 1],
        ['rejected', 'missing', 1],
      ]);
    } finally {
      await sdk.shutdown();
      context.disable();
    }
  });
});

describe('@fastify/websocket routes: hostile clients', () => {
  it.each([
    ['accepted', false],
    ['refused (replay)', true],
  ])('a client that resets while the verdict is awaited, then %s: no upgrade, no handler, no error; the next handshake opens', async (_outcome, seen) => {
    const replayStore = countingStore();
    const { app, port, origin, opened } = await webSocketApp({ replayStore });
    const asked = replayStore.hold();
    const client = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    client.on('error', () => undefined);
    client.write(handshake(port, { 'client-ip-attestation': await stampFor(origin) }));
    await asked;
    client.resetAndDestroy();
    await expect.poll(() => connectionsOf(app), { timeout: 10_000 }).toBe(0);
    replayStore.release(seen);
    const next = await rawHandshake(origin, { 'client-ip-attestation': await stampFor(origin) });
    expect(next.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(opened).toHaveLength(1);
    expect(replayStore.inserts).toBe(2);
  });

  it('a refused handshake with 256 KiB pipelined behind it: the refusal arrives whole, then the connection closes', async () => {
    const { app, port } = await webSocketApp();
    const received = await untilClosed(port, handshake(port) + 'x'.repeat(256 * 1024));
    expect(statusLines(received)).toEqual(['HTTP/1.1 401 Unauthorized']);
    expect(received.slice(received.indexOf('\r\n\r\n') + 4)).toBe(
      '{"type":"urn:ipstamp:missing","title":"Client IP attestation required","status":401,"reason":"missing"}',
    );
    await expect.poll(() => connectionsOf(app), { timeout: 10_000 }).toBe(0);
  });

  it('two handshakes on one connection: the first opens, the second is WebSocket bytes to ws, never verified', async () => {
    const replayStore = countingStore();
    const { port, origin, opened } = await webSocketApp({ replayStore });
    const first = handshake(port, { 'client-ip-attestation': await stampFor(origin) });
    const second = handshake(port, { 'client-ip-attestation': await stampFor(origin) });
    const received = await untilClosed(port, first + second);
    expect(statusLines(received)).toEqual(['HTTP/1.1 101 Switching Protocols']);
    expect(opened).toHaveLength(1);
    expect(replayStore.inserts).toBe(1);
  });

  it.each([
    ['content-length: 10', '0123456789'],
    ['transfer-encoding: chunked', 'a\r\n0123456789\r\n0\r\n\r\n'],
  ])('a handshake with a body (%s) and a stamp with cdg: 401 binding-mismatch, the body never hashed', async (framing, bytes) => {
    const { port, origin, opened } = await webSocketApp();
    const [name, value] = framing.split(': ') as [string, string];
    const token = await stampFor(origin, { body: '0123456789' });
    const received = await untilClosed(port, handshake(port, { [name]: value, 'client-ip-attestation': token }) + bytes);
    expect(statusLines(received)).toEqual(['HTTP/1.1 401 Unauthorized']);
    expect(received).toContain('"reason":"binding-mismatch"');
    expect(opened).toEqual([]);
  });

  it('a hand-made stamp whose htu is the ws: URL: 401 bad-claims', async () => {
    const { port, opened } = await webSocketApp();
    const now = Math.floor(Date.now() / 1000);
    const token = signRaw(
      key.privateJwk,
      { alg: 'HS256', typ: 'ipstamp+jwt', kid: key.kid },
      { ip: '127.0.0.2', iat: now, jti: Buffer.alloc(16, 7).toString('base64url'), htm: 'GET', htu: `ws://127.0.0.1:${port}/live` },
    );
    const received = await untilClosed(port, handshake(port, { 'client-ip-attestation': token }));
    expect(statusLines(received)).toEqual(['HTTP/1.1 401 Unauthorized']);
    expect(received).toContain('"reason":"bad-claims"');
    expect(opened).toEqual([]);
  });
});
