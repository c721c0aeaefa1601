/**
 * `stamp.upgrade(req, socket)`: node:http hands an upgrade handshake (a WebSocket) to its
 * 'upgrade' event, where no middleware runs. The handshake is checked as a request on the same
 * server would be, and a refusal is the same answer, written on the raw socket.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, WebSocket } from 'undici';
import WsClient, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/interceptor.node.js';
import { ipstamp, trackPeerAddresses, type IpStampNodeMiddleware, type Verdict } from '../../server/node/index.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { acceptWebSocket, rawWebSocketHandshake, type HandshakeAnswer } from '../support/raw-websocket-handshake.js';

const servers: Server[] = [];
/** Sockets taken off the HTTP server by an upgrade: its close waits for them, and closeAllConnections no longer knows them. */
const upgraded: Duplex[] = [];
afterEach(async () => {
  for (const socket of upgraded.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

interface Handshakes {
  port: number;
  /** Each upgrade's outcome, in order: the verdict, null, or undefined (refused or gone). */
  outcomes: (Verdict | null | undefined)[];
  /** The sockets the server was handed, in order. */
  sockets: Duplex[];
  /** Called with each socket as it is handed over, before the check. */
  watch?: (socket: Duplex) => void;
}

/**
 * A server whose 'upgrade' handler asks `check` first and, when told to go on, completes a
 * WebSocket handshake (RFC 6455 §4.2.2) and says "hello" in one text frame. Plain requests go
 * through the middleware itself.
 */
async function upgradingServer(stamp: IpStampNodeMiddleware, check = stamp.upgrade): Promise<Handshakes> {
  const handshakes: Handshakes = { port: 0, outcomes: [], sockets: [] };
  const server = trackPeerAddresses(createServer((req, res) => stamp(req, res, () => void res.end(JSON.stringify((req as { ipStamp?: unknown }).ipStamp)))));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    handshakes.sockets.push(socket);
    upgraded.push(socket);
    handshakes.watch?.(socket);
    void check(req, socket).then((outcome) => {
      handshakes.outcomes.push(outcome);
      if (outcome === undefined) return;
      acceptWebSocket(req, socket);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  handshakes.port = (server.address() as AddressInfo).port;
  return handshakes;
}

/** A raw handshake to the server's WebSocket path (test/support/raw-websocket-handshake.ts). */
function rawHandshake(port: number, headers: Record<string, string>, options: { extra?: string; until?: string } = {}): Promise<HandshakeAnswer> {
  return rawWebSocketHandshake(`http://127.0.0.1:${port}/live`, headers, options);
}

let key: TestKeyPair;
async function stampFor(port: number, ip = '127.0.0.2'): Promise<string> {
  key ??= await makeKey('HS256');
  return createStamper({ key: key.privateJwk, ip }).stamp({ method: 'GET', url: `http://127.0.0.1:${port}/live` });
}

async function middleware(options: Partial<Parameters<typeof ipstamp>[0]> = {}): Promise<IpStampNodeMiddleware> {
  key ??= await makeKey('HS256');
  return ipstamp({ keys: { keys: [key.publicJwk] }, ...options });
}

describe('stamp.upgrade on node:http', () => {
  it("opens a WebSocket that undici's client stamped through the interceptor; the verdict names the client's address", async () => {
    const stamp = await middleware();
    const handshakes = await upgradingServer(stamp);
    const dispatcher = new Agent({ localAddress: '127.0.0.2' }).compose(ipstampInterceptor({ key: key.privateJwk, ip: '127.0.0.2' }));
    const socket = new WebSocket(`ws://127.0.0.1:${handshakes.port}/live`, { dispatcher });
    const message = await new Promise<string>((resolve, reject) => {
      socket.onmessage = (event) => resolve(String(event.data));
      socket.onerror = () => reject(new Error('the WebSocket failed'));
    });
    socket.close();
    await dispatcher.close();
    expect(message).toBe('hello');
    expect(handshakes.outcomes).toHaveLength(1);
    expect(handshakes.outcomes[0]).toMatchObject({ ip: '127.0.0.2', agreement: 'match', kid: key.kid });
  });

  it('refuses an unstamped handshake with the answer a request gets, and closes the connection even with bytes behind the handshake', async () => {
    const stamp = await middleware();
    const handshakes = await upgradingServer(stamp);
    const refusedRequest = await fetch(`http://127.0.0.1:${handshakes.port}/live`);
    const answer = await rawHandshake(handshakes.port, {}, { extra: '\x81\x85garbage-frame' });
    expect(answer.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(answer.headers).toMatchObject({ 'content-type': 'application/problem+json', 'cache-control': 'no-store', connection: 'close' });
    expect(JSON.parse(answer.body)).toEqual(await refusedRequest.json());
    expect(JSON.parse(answer.body)).toMatchObject({ reason: 'missing', status: 401 });
    // the handler was told to stop: no 101, no frame
    expect(handshakes.outcomes).toEqual([undefined]);
    expect(answer.body).not.toContain('hello');
  });

  it("lets go of a refused socket when the client closes: the bytes behind the handshake are read, so the client's end is seen", async () => {
    const stamp = await middleware();
    const handshakes = await upgradingServer(stamp);
    const events: string[] = [];
    const closed = new Promise<void>((resolve) => {
      handshakes.watch = (socket) => {
        socket.once('end', () => events.push('end'));
        socket.once('close', () => (events.push('close'), resolve()));
      };
    });
    // more than a socket's read buffer: unread, it would hold the client's end back
    const answer = await rawHandshake(handshakes.port, {}, { extra: 'x'.repeat(256 * 1024) });
    await closed;
    expect(answer.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(events).toEqual(['end', 'close']);
  });

  it('refuses a handshake replayed on another connection, and a stamp naming another address', async () => {
    const stamp = await middleware();
    const handshakes = await upgradingServer(stamp);
    const stampHeader = await stampFor(handshakes.port);
    const first = await rawHandshake(handshakes.port, { 'client-ip-attestation': stampHeader }, { until: 'hello' });
    const replayed = await rawHandshake(handshakes.port, { 'client-ip-attestation': stampHeader });
    const lying = await rawHandshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.port, '198.51.100.7') });
    expect([first, replayed, lying].map((answer) => answer.statusLine)).toEqual([
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.1 401 Unauthorized',
      'HTTP/1.1 403 Forbidden',
    ]);
    expect([JSON.parse(replayed.body), JSON.parse(lying.body)]).toMatchObject([{ reason: 'replay' }, { reason: 'ip-mismatch' }]);
    expect(handshakes.outcomes.map((outcome) => outcome?.ip)).toEqual(['127.0.0.2', undefined, undefined]);
  });

  it('stamp.optional.upgrade lets an unstamped handshake through as null, and still refuses a bad stamp', async () => {
    const stamp = await middleware();
    const handshakes = await upgradingServer(stamp, stamp.optional.upgrade);
    const unstamped = await rawHandshake(handshakes.port, {}, { until: 'hello' });
    const forged = await rawHandshake(handshakes.port, { 'client-ip-attestation': 'e30.e30.AAAA' });
    expect([unstamped, forged].map((answer) => answer.statusLine)).toEqual(['HTTP/1.1 101 Switching Protocols', 'HTTP/1.1 401 Unauthorized']);
    expect(handshakes.outcomes).toEqual([null, undefined]);
  });

  it('a client that resets while the verdict is awaited ends nothing but its own handshake', async () => {
    let release: (fresh: boolean) => void = () => undefined;
    let inserted: () => void = () => undefined;
    const insertAsked = new Promise<void>((resolve) => (inserted = resolve));
    let inserts = 0;
    // the first insert waits for the test; the later ones answer at once
    const heldOnce: ReplayStore = {
      insertIfAbsent: () => {
        if (inserts++ > 0) return true;
        inserted();
        return new Promise<boolean>((resolve) => (release = resolve));
      },
    };
    const stamp = await middleware({ replayStore: heldOnce });
    const handshakes = await upgradingServer(stamp);
    const stampHeader = await stampFor(handshakes.port);

    const client = connect({ host: '127.0.0.1', port: handshakes.port, localAddress: '127.0.0.2' });
    client.on('error', () => undefined);
    client.write(
      `GET /live HTTP/1.1\r\nhost: 127.0.0.1:${handshakes.port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
        `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nclient-ip-attestation: ${stampHeader}\r\n\r\n`,
    );
    await insertAsked;
    client.resetAndDestroy();
    const serverSide = handshakes.sockets[0];
    if (serverSide === undefined) throw new Error('the server was handed no socket');
    await new Promise((closed) => serverSide.once('close', closed));
    release(true);
    await expect.poll(() => handshakes.outcomes).toEqual([undefined]);

    // the process and the server go on: the next handshake opens
    const next = await rawHandshake(handshakes.port, { 'client-ip-attestation': await stampFor(handshakes.port) }, { until: 'hello' });
    expect(next.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
  });
  it("hands the socket to ws's WebSocketServer; a ws client stamps its handshake with createStamper for the http: form", async () => {
    const stamp = await middleware();
    const wss = new WebSocketServer({ noServer: true });
    const server = trackPeerAddresses(createServer());
    servers.push(server);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.push(socket);
      void stamp.upgrade(req, socket).then((verdict) => {
        if (verdict === undefined) return;
        wss.handleUpgrade(req, socket, head, (ws) => ws.send(`hello ${verdict?.ip ?? 'nobody'}`));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`;

    const header = await createStamper({ key: key.privateJwk, ip: '127.0.0.2' }).stamp({ method: 'GET', url: url.replace(/^ws:/, 'http:') });
    const stamped = new WsClient(url, { headers: { 'client-ip-attestation': header }, localAddress: '127.0.0.2' });
    const message = await new Promise<string>((resolve, reject) => {
      stamped.once('message', (data: Buffer) => resolve(data.toString()));
      stamped.once('error', reject);
    });
    stamped.close();

    const unstamped = new WsClient(url, { localAddress: '127.0.0.2' });
    unstamped.on('error', () => undefined);
    const refusal = await new Promise<{ status?: number; body: string }>((resolve) => {
      unstamped.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode, body }));
      });
    });
    wss.close();
    expect(message).toBe('hello 127.0.0.2');
    expect(refusal.status).toBe(401);
    expect(JSON.parse(refusal.body)).toMatchObject({ reason: 'missing' });
  });
});
