import { connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { connect as netConnect, type Server } from 'node:net';
import { expect, it, vi } from 'vitest';
import type { Stamper } from '../../client/index.js';

/**
 * node:http2's client, as the HTTP/2 tests of every adapter drive it: one session, many
 * streams. Node's client adds `:scheme` and `:authority` unless told otherwise, and sends no
 * `:authority` when a `host` header is given; `:authority` and `host` together go as given.
 * The apps under test answer `{ jti }`: the jti of the verdict their handler was given. The
 * cases come with the answers every adapter gives them (`*_ANSWERS`); each adapter's file
 * names beside them only what its adapter answers otherwise.
 */

/** A session whose errors (a peer that resets it, a test that destroys it) are the test's to look at, not uncaught. */
export function h2Session(origin: string, options: SecureClientSessionOptions = {}): ClientHttp2Session {
  const session = connect(origin, options);
  session.on('error', () => {});
  return session;
}

/** The jti a stamp carries: what the handler must echo when it is given this stamp's verdict. */
export function jtiOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
}

/**
 * One stream on `session`, its answer in one line: `accepted` when the handler echoed the jti
 * of the stamp in `headers`, `200 <jti>` when it echoed another, `<status> <reason>` for a
 * refusal (`<status> ""` for an answer without a problem body), `reset <code>` when the stream
 * was reset instead.
 */
export async function h2Answer(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string, trailers?: OutgoingHttpHeaders): Promise<string> {
  const stream = session.request(headers, { endStream: body === undefined, waitForTrailers: trailers !== undefined });
  if (trailers !== undefined) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
  if (body !== undefined) stream.end(body);
  let text = '';
  let status: number;
  try {
    status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (h) => resolve(Number(h[':status'])));
      stream.once('error', reject);
    });
    stream.setEncoding('utf8');
    for await (const chunk of stream) text += chunk as string;
  } catch (error) {
    return `reset ${(error as { code?: string }).code ?? String(error)}`;
  }
  if (!text.startsWith('{')) return `${status} ${JSON.stringify(text)}`;
  const json = JSON.parse(text) as { jti?: string | null; reason?: string };
  const token = headers['client-ip-attestation'];
  if (status === 200) return typeof token === 'string' && json.jti === jtiOf(token) ? 'accepted' : `200 ${json.jti}`;
  return `${status} ${json.reason}`;
}

/** A named request: its headers (the stamp among them), its body and trailers, if any. */
export interface H2Case {
  readonly name: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: string;
  readonly trailers?: OutgoingHttpHeaders;
}

/**
 * Every case's answer, by name, each on a session of its own: how node:http2 refuses a frame it
 * will not take differs by Node version (Node 20 resets the stream, 22 and 24 may end the whole
 * session), and one case's refusal must not become the next case's answer.
 */
export async function h2Answers(origin: string, cases: readonly H2Case[]): Promise<Record<string, string>> {
  const answers: Record<string, string> = {};
  for (const { name, headers, body, trailers } of cases) {
    const session = h2Session(origin);
    try {
      answers[name] = await h2Answer(session, headers, body, trailers);
    } finally {
      session.destroy();
    }
  }
  return answers;
}

/**
 * A refusal by node:http2 itself, before any handler runs: a stream reset, or on newer Node the
 * session's end. Which, and its code, depends on the Node version; that it is one does not.
 */
export const NODE_H2_REFUSAL = /^reset ERR_HTTP2_/;

/**
 * PROTOCOL §5.1 over HTTP/2, against a server on 127.0.0.1:`port`: `:authority` names the
 * origin, a `host` beside it must name it too (but for case), `host` alone stands in for it.
 */
export async function authorityCases(stamper: Stamper, port: number): Promise<H2Case[]> {
  const origin = `http://127.0.0.1:${port}`;
  const get = async (signedOrigin: string, headers: OutgoingHttpHeaders): Promise<OutgoingHttpHeaders> => ({
    ':method': 'GET',
    ':path': '/orders',
    ...headers,
    'client-ip-attestation': await stamper.stamp({ method: 'GET', url: `${signedOrigin}/orders` }),
  });
  return [
    { name: ':authority alone', headers: await get(origin, {}) },
    { name: 'host equal but for case', headers: await get(`http://localhost:${port}`, { ':authority': `LOCALHOST:${port}`, host: `localhost:${port}` }) },
    { name: 'host names another, stamp for :authority', headers: await get(origin, { ':authority': `127.0.0.1:${port}`, host: 'evil.example' }) },
    { name: 'host names another, stamp for host', headers: await get('http://evil.example', { ':authority': `127.0.0.1:${port}`, host: 'evil.example' }) },
    {
      name: 'host with the default port beside :authority without',
      headers: await get('http://evil.example', { ':authority': 'evil.example', host: 'evil.example:80' }),
    },
    { name: 'host alone', headers: await get(origin, { host: `127.0.0.1:${port}` }) },
    { name: ':authority with userinfo', headers: await get(origin, { ':authority': `user:pass@127.0.0.1:${port}` }) },
    { name: ':authority with a zero-padded port', headers: await get(origin, { ':authority': `127.0.0.1:0${port}` }) },
    { name: ':authority with the default port', headers: await get('http://127.0.0.1', { ':authority': '127.0.0.1:80' }) },
  ];
}

/**
 * What authorityCases get from every adapter: each file's test spreads this and names, beside
 * it, what its adapter answers otherwise.
 */
export const AUTHORITY_ANSWERS: Readonly<Record<string, unknown>> = {
  ':authority alone': 'accepted',
  'host equal but for case': 'accepted',
  'host names another, stamp for :authority': '401 binding-mismatch',
  'host names another, stamp for host': '401 binding-mismatch',
  'host with the default port beside :authority without': '401 binding-mismatch',
  'host alone': 'accepted',
  // refused either way: Node 22 and 24 reset the stream themselves, Node 20 hands it on
  ':authority with userinfo': expect.stringMatching(/^(401 binding-mismatch|reset ERR_HTTP2_\w+)$/),
  ':authority with a zero-padded port': '401 binding-mismatch',
  ':authority with the default port': 'accepted',
};

/**
 * PROTOCOL §5 step 9 over HTTP/2: `:path` is compared with `htu`'s path as sent, as the
 * request-target is in HTTP/1.1 (test/adapters/request-target.test.ts).
 */
export async function targetCases(stamper: Stamper, port: number): Promise<H2Case[]> {
  const origin = `http://127.0.0.1:${port}`;
  const request = async (method: string, path: string, signedPath: string): Promise<OutgoingHttpHeaders> => ({
    ':method': method,
    ':path': path,
    'client-ip-attestation': await stamper.stamp({ method, url: `${origin}/`, claims: { htu: `${origin}${signedPath}` } }),
  });
  return [
    { name: 'query', headers: await request('GET', '/orders?page=2', '/orders') },
    { name: 'dot segments, signed resolved', headers: await request('GET', '/a/../orders', '/orders') },
    { name: 'dot segments, signed as sent', headers: await request('GET', '/a/../orders', '/a/../orders') },
    { name: 'percent-encoding, signed decoded', headers: await request('GET', '/%6Frders', '/orders') },
    { name: 'percent-encoding, signed as sent', headers: await request('GET', '/%6Frders', '/%6Frders') },
    { name: 'absolute form', headers: await request('GET', `${origin}/orders`, '/orders') },
    { name: 'asterisk', headers: await request('OPTIONS', '*', '/') },
  ];
}

/** What targetCases get from every adapter, as AUTHORITY_ANSWERS. */
export const TARGET_ANSWERS: Readonly<Record<string, unknown>> = {
  query: 'accepted',
  'dot segments, signed resolved': '401 binding-mismatch',
  'dot segments, signed as sent': 'accepted',
  'percent-encoding, signed decoded': '401 binding-mismatch',
  'percent-encoding, signed as sent': 'accepted',
  // RFC 9113 §8.3.1: node:http2 resets a stream whose :path is neither origin-form nor `*`
  'absolute form': expect.stringMatching(NODE_H2_REFUSAL),
  asterisk: '401 binding-mismatch',
};

/**
 * Bodies over HTTP/2, which frames them with DATA frames and END_STREAM, with or without a
 * `content-length` (RFC 9113 §8.1.1: one that disagrees with the DATA makes the stream malformed).
 */
export async function bodyCases(stamper: Stamper, port: number): Promise<H2Case[]> {
  const url = `http://127.0.0.1:${port}/orders`;
  const json = '{"transfer":"all-funds"}';
  const post = async (headers: OutgoingHttpHeaders, signedBody: string, method = 'POST'): Promise<OutgoingHttpHeaders> => ({
    ':method': method,
    ':path': '/orders',
    'content-type': 'application/json',
    ...headers,
    'client-ip-attestation': await stamper.stamp({ method, url, body: signedBody }),
  });
  const length = String(Buffer.byteLength(json));
  return [
    { name: 'cdg, no content-length', headers: await post({}, json), body: json },
    { name: 'cdg, content-length', headers: await post({ 'content-length': length }, json), body: json },
    { name: 'cdg, content-length shorter than the DATA', headers: await post({ 'content-length': String(Number(length) - 2) }, json), body: json },
    { name: 'cdg, content-length longer than the DATA', headers: await post({ 'content-length': String(Number(length) + 2) }, json), body: json },
    { name: 'cdg over no body, empty DATA with END_STREAM', headers: await post({ 'content-type': 'text/plain' }, ''), body: '' },
    { name: 'cdg over no body, content-length 0, empty DATA', headers: await post({ 'content-type': 'text/plain', 'content-length': '0' }, ''), body: '' },
    { name: 'cdg over no body, a GET with a body', headers: await post({ 'content-type': 'text/plain' }, '', 'GET'), body: 'smuggled' },
    {
      name: 'the stamp in trailers only',
      headers: { ':method': 'POST', ':path': '/orders', 'content-type': 'application/json' },
      body: json,
      trailers: { 'client-ip-attestation': await stamper.stamp({ method: 'POST', url, body: json }) },
    },
  ];
}

/**
 * What bodyCases get from an adapter that reads no body (ipstamp/node without rawBodyVerify):
 * every `cdg` over a body fails closed. An adapter that reads bodies names, beside it, the
 * cases it accepts.
 */
export const BODY_ANSWERS: Readonly<Record<string, unknown>> = {
  'cdg, no content-length': '401 binding-mismatch',
  'cdg, content-length': '401 binding-mismatch',
  'cdg, content-length shorter than the DATA': expect.stringMatching(NODE_H2_REFUSAL),
  'cdg, content-length longer than the DATA': expect.stringMatching(NODE_H2_REFUSAL),
  'cdg over no body, empty DATA with END_STREAM': '401 binding-mismatch',
  'cdg over no body, content-length 0, empty DATA': 'accepted',
  'cdg over no body, a GET with a body': '401 binding-mismatch',
  'the stamp in trailers only': '401 missing',
};

/** HPACK's integer with a 7-bit prefix (RFC 7541 §5.1), for a string's length. */
function hpackLength(length: number): number[] {
  if (length < 127) return [length];
  const bytes = [127];
  let rest = length - 127;
  while (rest >= 128) {
    bytes.push((rest & 127) | 128);
    rest >>= 7;
  }
  bytes.push(rest);
  return bytes;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

const RST_STREAM = 3;
const GOAWAY = 7;
const DATA = 0;
const END_STREAM = 0x1;

/**
 * One bodiless request written as HEADERS frames by hand: header lines node:http2's client will
 * not send (a name twice, upper case, connection-specific), each a literal HPACK field in the
 * order given. The answer: `reset <error code>` when the server reset the stream (or the whole
 * connection), else the body it answered with.
 */
export function rawH2Answer(port: number, headers: readonly (readonly [string, string])[]): Promise<string> {
  const block = Buffer.concat(
    headers.map(([name, value]) =>
      Buffer.concat([
        Buffer.from([0x00, ...hpackLength(name.length)]),
        Buffer.from(name),
        Buffer.from(hpackLength(Buffer.byteLength(value))),
        Buffer.from(value),
      ]),
    ),
  );
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let body = '';
    const settle = (answer: string): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 9 && received.length >= 9 + received.readUIntBE(0, 3)) {
        const length = received.readUIntBE(0, 3);
        const [type, flags] = [received[3]!, received[4]!];
        const payload = received.subarray(9, 9 + length);
        received = received.subarray(9 + length);
        if (type === RST_STREAM) return settle(`reset ${payload.readUInt32BE(0)}`);
        if (type === GOAWAY) return settle(`reset ${payload.readUInt32BE(4)}`);
        if (type === DATA) body += payload.toString();
        if (type === DATA && (flags & END_STREAM) !== 0) return settle(body);
      }
    });
    socket.on('error', reject);
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const settings = frame(4, 0, 0, Buffer.alloc(0));
    // HEADERS on stream 1 with END_HEADERS and END_STREAM
    socket.write(Buffer.concat([preface, settings, frame(1, 0x4 | END_STREAM, 1, block)]));
  });
}

/** How many connections `server` holds open now. */
export function openConnections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** A stamped GET of /orders on `origin`: its headers. */
export async function stampedGet(stamper: Stamper, origin: string): Promise<Record<string, string>> {
  return { ':path': '/orders', 'client-ip-attestation': await stamper.stamp({ method: 'GET', url: `${origin}/orders` }) };
}

/** The headers of a stamped POST of 100 bytes with `cdg` to `origin`, whose body the test sends only a part of. */
export async function partialPost(stamper: Stamper, origin: string): Promise<Record<string, string>> {
  const body = 'x'.repeat(100);
  const stamp = await stamper.stamp({ method: 'POST', url: `${origin}/orders`, body });
  return { ':method': 'POST', ':path': '/orders', 'content-type': 'text/plain', 'content-length': '100', 'client-ip-attestation': stamp };
}

/**
 * The test of many streams on one session that every adapter must pass, whether it reads
 * bodies or not (ipstamp/node's file calls it alone, h2StreamTests with the rest).
 */
export function h2ConcurrentStreamsTest(appUnderTest: () => Pick<H2App, 'origin' | 'stamper'>): void {
  it('50 concurrent streams on one session: each handler gets its own stamp; a stamp sent on two streams is accepted once', async () => {
    const { origin, stamper } = appUnderTest();
    const session = h2Session(origin);
    try {
      const requests = await Promise.all(Array.from({ length: 50 }, () => stampedGet(stamper, origin)));
      const answers = await Promise.all(requests.map((headers) => h2Answer(session, headers)));
      expect(answers).toEqual(requests.map(() => 'accepted'));
      const twice = await stampedGet(stamper, origin);
      const both = await Promise.all([h2Answer(session, twice), h2Answer(session, twice)]);
      expect(both.sort()).toEqual(['401 replay', 'accepted']);
    } finally {
      session.close();
    }
  });
}

/** An HTTP/2 app under test: where it listens, its stamper, and how many requests it began and let through to a handler. */
export interface H2App {
  readonly origin: string;
  readonly stamper: Stamper;
  readonly server: Server;
  readonly begun: () => number;
  readonly handled: () => number;
}

/**
 * The tests of many streams on one session that every adapter that reads a body for `cdg` must
 * pass alike (Fastify's and Hono's files call this inside their describe): verdicts never cross
 * streams, a stamp is good once across streams, and a stream or session cut mid-body leaves the
 * server serving.
 */
export function h2StreamTests(appUnderTest: () => H2App): void {
  h2ConcurrentStreamsTest(appUnderTest);

  it('a stream reset while its body is read for cdg is never handled, and the next stream on its session is served', async () => {
    const { origin, stamper, begun, handled } = appUnderTest();
    const session = h2Session(origin);
    try {
      const [before, handledBefore] = [begun(), handled()];
      const stream = session.request(await partialPost(stamper, origin));
      stream.on('error', () => {});
      stream.write('x'.repeat(10));
      await vi.waitFor(() => expect(begun()).toBe(before + 1));
      stream.close(constants.NGHTTP2_CANCEL);
      expect(await h2Answer(session, await stampedGet(stamper, origin))).toBe('accepted');
      expect(handled() - handledBefore).toBe(1);
    } finally {
      session.close();
    }
  });

  it('a session destroyed mid-body leaves the server serving, and its connection closed', async () => {
    const { origin, stamper, server, begun } = appUnderTest();
    const doomed = h2Session(origin);
    const before = begun();
    const stream = doomed.request(await partialPost(stamper, origin));
    stream.on('error', () => {});
    stream.write('x'.repeat(10));
    await vi.waitFor(() => expect(begun()).toBe(before + 1));
    doomed.destroy();
    const session = h2Session(origin);
    try {
      expect(await h2Answer(session, await stampedGet(stamper, origin))).toBe('accepted');
    } finally {
      session.close();
    }
    await vi.waitFor(async () => expect(await openConnections(server)).toBe(0));
  });
}
