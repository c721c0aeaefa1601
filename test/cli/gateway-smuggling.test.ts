import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.node.js';
import { listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { header, rawExchange, type RawExchange } from './raw-http.js';
import { waitFor } from './stamped-traffic.js';

/**
 * Request smuggling and desync between the gateway and its upstream: whatever bytes a client
 * sends, the upstream sees only requests the gateway verified, each framed once, with the
 * gateway's own verdict headers; and no answer on a pooled upstream connection reaches another
 * request's client. The upstream is a recorder on node:net: it logs the raw bytes of each
 * connection, frames requests itself (Content-Length or chunked, as the gateway sends them) and
 * answers each with what it parsed.
 */

interface UpRequest {
  /** Which upstream connection carried it (0, 1, … in accept order). */
  conn: number;
  method: string;
  target: string;
  /** [name, value], names lower-cased, in order. */
  lines: [string, string][];
  body: string;
}

const scratch = scratchDir();
/** Every request the upstream framed during the current test, in order. */
const received: UpRequest[] = [];
/** The raw bytes each upstream connection carried. */
const rawByConn: string[] = [];
/** What the recorder could not frame during the current test (the gateway sends only well-framed requests). */
const unframed: string[] = [];
const upSockets = new Set<Socket>();
let upstream: Server;
let gateway: RunningServe;
let key: TestKeyPair;
let host: string;

/** One request framed off the front of `buffer`, or undefined when it has not all arrived. */
function frame(buffer: string): { head: string; body: string; rest: string } | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buffer.slice(0, end);
  let rest = buffer.slice(end + 4);
  const lines = head.split('\r\n').slice(1);
  const lengthLine = lines.find((l) => /^content-length:/i.test(l));
  const chunked = lines.some((l) => /^transfer-encoding:\s*chunked\s*$/i.test(l));
  if (lengthLine !== undefined && !chunked) {
    const length = Number(lengthLine.slice(lengthLine.indexOf(':') + 1).trim());
    if (rest.length < length) return undefined;
    return { head, body: rest.slice(0, length), rest: rest.slice(length) };
  }
  if (!chunked) return { head, body: '', rest };
  let body = '';
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    if (lineEnd < 0) return undefined;
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (size === 0) {
      const trailersEnd = rest.indexOf('\r\n\r\n');
      if (trailersEnd < 0) return undefined;
      return { head, body, rest: rest.slice(trailersEnd + 4) };
    }
    if (rest.length < lineEnd + 2 + size + 2) return undefined;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

function reply(socket: Socket, request: UpRequest): void {
  const json = JSON.stringify(request);
  const head = (length: number) => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n`;
  const path = request.target.split('?')[0];
  if (path === '/extra') {
    // a second, unrequested response right behind the first, in the same write
    const forged = '{"forged":true}';
    socket.write(`${head(json.length)}\r\n${json}HTTP/1.1 200 OK\r\nContent-Length: ${forged.length}\r\nX-Forged: yes\r\n\r\n${forged}`);
    return;
  }
  if (path === '/long') {
    // more body than its Content-Length says
    socket.write(`${head(json.length)}\r\n${json}${'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nXX'}`);
    return;
  }
  if (path === '/up-headers') {
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Up-Secret\r\nX-Up-Secret: s\r\nKeep-Alive: timeout=1\r\nClient-IP: 6.6.6.6\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n\r\nok`,
    );
    return;
  }
  socket.write(`${head(json.length)}\r\n${request.method === 'HEAD' ? '' : json}`);
}

function startRecorder(): Server {
  return createServer((socket) => {
    upSockets.add(socket);
    socket.once('close', () => upSockets.delete(socket));
    socket.on('error', () => undefined);
    const conn = rawByConn.push('') - 1;
    let buffer = '';
    let earlyAnswered = false;
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      rawByConn[conn] += data;
      buffer += data;
      for (;;) {
        if (buffer.length > 0 && !/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(buffer.slice(0, 2000)) && buffer.includes('\r\n')) {
          unframed.push(buffer);
          buffer = '';
          return;
        }
        if (!earlyAnswered && buffer.startsWith('POST /early ') && buffer.includes('\r\n\r\n')) {
          // answers on the head, before the body has been read; reads the body after (keep-alive)
          earlyAnswered = true;
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly');
        }
        const request = frame(buffer);
        if (request === undefined) return;
        buffer = request.rest;
        const [requestLine = '', ...lines] = request.head.split('\r\n');
        const [method = '', target = ''] = requestLine.split(' ');
        const record: UpRequest = {
          conn,
          method,
          target,
          lines: lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
          body: request.body,
        };
        received.push(record);
        if (earlyAnswered) earlyAnswered = false;
        else reply(socket, record);
      }
    });
  });
}

async function stampFor(method: string, path: string): Promise<string> {
  return createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method, url: `http://${host}${path}` });
}

/** A request head (CRLF line ends, a trailing empty line), from its start line and header lines. */
function head(start: string, ...lines: string[]): string {
  return [start, `Host: ${host}`, ...lines, '', ''].join('\r\n');
}

async function exchange(bytes: string | Buffer | ((socket: Socket) => void)): Promise<RawExchange> {
  return rawExchange(gateway.port, bytes);
}

function upstreamSaw(path: string): UpRequest[] {
  return received.filter((r) => r.target.split('?')[0] === path);
}

beforeAll(async () => {
  upstream = startRecorder();
  const upstreamPort = await listenOnFreePort(upstream);
  key = await makeKey('ES256', 'gw-smuggling');
  const keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
  gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--body-limit', '1024'], 'gateway');
  host = `127.0.0.1:${gateway.port}`;
});
// each test reads what the upstream received during it alone
beforeEach(() => {
  received.length = 0;
  unframed.length = 0;
});
afterAll(async () => {
  await gateway?.stop();
  for (const socket of upSockets) socket.destroy();
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

/** A stamped request for `/smuggled-ID`: if the gateway ever parsed it out of a body, it would verify and be forwarded. */
async function smuggled(id: string): Promise<string> {
  return head(`GET /smuggled-${id} HTTP/1.1`, `Client-IP-Attestation: ${await stampFor('GET', `/smuggled-${id}`)}`);
}

/** A stamped GET `path` that ends the exchange (Connection: close). */
async function closing(path: string): Promise<string> {
  return head(`GET ${path} HTTP/1.1`, `Client-IP-Attestation: ${await stampFor('GET', path)}`, 'Connection: close');
}

function chunked(body: string): string {
  return `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
}

/** The upstream's report of which request an answer belongs to (its JSON body). */
function answered(body: string): string {
  return (JSON.parse(body) as UpRequest).target;
}

function reasonOf(body: string): string | undefined {
  return (JSON.parse(body) as { reason?: string }).reason;
}

/** Nothing the upstream received was framed differently from how the gateway sent it, and no smuggled request ever arrived. */
function expectNoSmuggling(): void {
  expect(unframed).toEqual([]);
  expect(received.filter((r) => r.target.startsWith('/smuggled-')).map((r) => r.target)).toEqual([]);
}

/**
 * A stamped request answered after `exchange`: anything the gateway forwards for that exchange
 * (verified while the exchange closed) is on its way to the upstream by the time this is answered.
 */
async function sentinel(): Promise<void> {
  const x = await exchange(await closing('/sentinel'));
  expect(x.responses.map((r) => r.status)).toEqual([200]);
}

describe('a request head or body Node does not parse strictly is refused: 400, connection closed, nothing forwarded', () => {
  // [id, lines after Host (the stamp is added), the bytes after the head]
  const MALFORMED: [string, string[], string][] = [
    ['content-length-and-chunked', ['Content-Length: 40', 'Transfer-Encoding: chunked'], '0\r\n\r\n'],
    ['chunked-and-content-length', ['Transfer-Encoding: chunked', 'Content-Length: 3'], '0\r\n\r\n'],
    ['two-equal-content-lengths', ['Content-Length: 5', 'Content-Length: 5'], 'hello'],
    ['two-different-content-lengths', ['Content-Length: 5', 'Content-Length: 0'], 'hello'],
    ['content-length-list', ['Content-Length: 5, 5'], 'hello'],
    ['content-length-plus', ['Content-Length: +5'], 'hello'],
    ['content-length-hex', ['Content-Length: 0x5'], 'hello'],
    ['content-length-space-before-colon', ['Content-Length : 5'], 'hello'],
    ['chunked-then-identity', ['Transfer-Encoding: chunked, identity'], '0\r\n\r\n'],
    ['xchunked', ['Transfer-Encoding: xchunked'], '0\r\n\r\n'],
    ['two-transfer-encoding-lines', ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'], '0\r\n\r\n'],
    ['transfer-encoding-space-before-colon', ['Transfer-Encoding : chunked'], '0\r\n\r\n'],
    ['transfer-encoding-obs-fold', ['Transfer-Encoding:', ' chunked'], '0\r\n\r\n'],
    ['transfer-encoding-as-continuation', ['X-A: b', ' Transfer-Encoding: chunked'], '0\r\n\r\n'],
    ['verdict-header-obs-fold', ['X-Attested-Client-IP:', ' 203.0.113.1'], ''],
    ['chunk-size-overlong', ['Transfer-Encoding: chunked'], '10000000000000005\r\nhello\r\n0\r\n\r\n'],
    ['chunk-size-negative', ['Transfer-Encoding: chunked'], '-5\r\nhello\r\n0\r\n\r\n'],
    ['chunk-size-0x', ['Transfer-Encoding: chunked'], '0x5\r\nhello\r\n0\r\n\r\n'],
    ['chunk-extension-quoted-line-end', ['Transfer-Encoding: chunked'], '5;a="\r\nhello\r\n0\r\n\r\n'],
    ['chunk-bare-lf', ['Transfer-Encoding: chunked'], '5\nhello\n0\n\n'],
    ['chunk-data-longer-than-size', ['Transfer-Encoding: chunked'], '5\r\nhelloXX0\r\n\r\n'],
    ['nul-in-header-value', ['X-A: a\u0000b', 'Content-Length: 5'], 'hello'],
    ['cr-in-header-value', ['X-A: a\rb', 'Content-Length: 5'], 'hello'],
    ['space-in-header-name', ['X Attested-Client-IP: 203.0.113.1'], ''],
  ];

  it.each(MALFORMED)('%s', async (id, lines, rest) => {
    const path = `/malformed-${id}`;
    const bytes = head(`POST ${path} HTTP/1.1`, ...lines, `Client-IP-Attestation: ${await stampFor('POST', path)}`) + rest + (await smuggled(id));
    const x = await exchange(bytes);
    expect(x.responses.map((r) => r.status)).toEqual([400]);
    expect(x.closed).toBe(true);
    expect(upstreamSaw(path)).toEqual([]);
    expectNoSmuggling();
  });

  it.each([
    [
      'bare LF line ends in the head',
      (t: string) => `POST /bare-lf HTTP/1.1\nHost: ${host}\nContent-Length: 5\nClient-IP-Attestation: ${t}\n\nhello`,
      '/bare-lf',
    ],
    [
      'data after the Connection: close request',
      (t: string) => head('GET /bare-lf HTTP/1.1', `Client-IP-Attestation: ${t}`, 'Connection: close') + head('GET /after-close HTTP/1.1'),
      '/bare-lf',
    ],
    ['an HTTP/2 preface', () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '*'],
  ])('%s', async (label, make, path) => {
    const x = await exchange(make(path === '*' ? '' : await stampFor(label.startsWith('bare') ? 'POST' : 'GET', path)));
    expect(x.responses.map((r) => r.status)).toEqual([400]);
    expect(x.closed).toBe(true);
    expect(upstreamSaw(path)).toEqual([]);
  });
});

describe('a framing Node accepts reaches the upstream as one request, its body framed anew, never parsed as a request', () => {
  // [id, framing lines, the body as framed]; the body is a stamped request for /smuggled-ID
  const ACCEPTED: [string, string[], (body: string) => string][] = [
    ['content-length', [], (b) => b],
    ['content-length-leading-zeros', [], (b) => b],
    ['chunked', ['Transfer-Encoding: chunked'], chunked],
    ['chunked-upper-case', ['Transfer-Encoding: CHUNKED'], chunked],
    ['chunked-after-tab', ['Transfer-Encoding:\tchunked'], chunked],
    ['identity-then-chunked', ['Transfer-Encoding: identity, chunked'], chunked],
    ['chunk-extensions', ['Transfer-Encoding: chunked'], (b) => `${b.length.toString(16)};a=b\r\n${b}\r\n0;x=";"\r\n\r\n`],
    ['chunk-size-leading-zeros', ['Transfer-Encoding: chunked'], (b) => `0000${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
    ['transfer_encoding-underscore-with-content-length', ['Transfer_Encoding: chunked'], (b) => b],
  ];

  it.each(ACCEPTED)('%s', async (id, framing, frame) => {
    const path = `/accepted-${id}`;
    const body = await smuggled(id);
    const length = framing.some((l) => /^transfer-encoding:/i.test(l)) ? [] : [`Content-Length: ${id.includes('leading-zeros') ? '000' : ''}${body.length}`];
    const bytes =
      head(`POST ${path} HTTP/1.1`, 'Content-Type: text/plain', ...framing, ...length, `Client-IP-Attestation: ${await stampFor('POST', path)}`) +
      frame(body) +
      (await closing(`${path}/next`));
    const x = await exchange(bytes);
    expect(x.responses.map((r) => r.status)).toEqual([200, 200]);
    expect(x.responses.map((r) => answered(r.body))).toEqual([path, `${path}/next`]);
    const [got] = upstreamSaw(path);
    expect(got?.body).toBe(body);
    // the gateway's own framing, one of the two, and none of the client's spellings
    const framingLines = got!.lines.filter(([n]) => /^(content|transfer)[^a-z0-9]?(length|encoding)$/.test(n));
    expect(framingLines).toHaveLength(1);
    expect(framingLines[0]![0]).toMatch(/^(content-length|transfer-encoding)$/);
    expectNoSmuggling();
  });

  it('Content_Length (underscore) is no framing: the request has no body, the bytes after its head are the next request, verified on their own', async () => {
    const path = '/content_length';
    const next = `${path}/next`;
    const bytes = head(`POST ${path} HTTP/1.1`, 'Content_Length: 60', `Client-IP-Attestation: ${await stampFor('POST', path)}`) + (await closing(next));
    const x = await exchange(bytes);
    expect(x.responses.map((r) => r.status)).toEqual([200, 200]);
    expect(upstreamSaw(path).map((r) => r.body)).toEqual(['']);
    expect(upstreamSaw(next)).toHaveLength(1);
    expectNoSmuggling();
  });
  it('trailers of a chunked body (a verdict header, X-Forwarded-For) never reach the upstream: the body goes framed anew, without them', async () => {
    const path = '/trailers';
    const x = await exchange(
      head(
        `POST ${path} HTTP/1.1`,
        'Transfer-Encoding: chunked',
        'Trailer: X-Attested-Client-IP',
        'Content-Type: text/plain',
        `Client-IP-Attestation: ${await stampFor('POST', path)}`,
        'Connection: close',
      ) + '5\r\nhello\r\n0\r\nX-Attested-Client-IP: 203.0.113.1\r\nX-Forwarded-For: 203.0.113.2\r\n\r\n',
    );
    expect(x.responses.map((r) => r.status)).toEqual([200]);
    const [got] = upstreamSaw(path);
    expect(got!.body).toBe('hello');
    expect(got!.lines.filter(([, v]) => v.includes('203.0.113.'))).toEqual([]);
    expect(rawByConn[got!.conn]).not.toContain('203.0.113.');
  });
});

describe('pipelining: each request verified on its own, each answer its own', () => {
  it('two stamped requests in one write: both forwarded in order, each with its own verdict and answer', async () => {
    const x = await exchange(head('GET /pipe-1 HTTP/1.1', `Client-IP-Attestation: ${await stampFor('GET', '/pipe-1')}`) + (await closing('/pipe-2')));
    expect(x.responses.map((r) => answered(r.body))).toEqual(['/pipe-1', '/pipe-2']);
    for (const path of ['/pipe-1', '/pipe-2']) expect(upstreamSaw(path)).toHaveLength(1);
  });

  it.each([
    ['no stamp, a forged verdict header', (_t: string) => ['X-Attested-Client-IP: 203.0.113.9'], 'missing'],
    ['the first request’s stamp again', (t: string) => [`Client-IP-Attestation: ${t}`], 'replay'],
  ])('a stamped request, then one with %s: 200, then refused and never forwarded', async (_label, lines, reason) => {
    const path = `/pipe-${reason}`;
    const token = await stampFor('GET', path);
    const x = await exchange(
      head(`GET ${path} HTTP/1.1`, `Client-IP-Attestation: ${token}`) + head(`GET ${path} HTTP/1.1`, ...lines(token), 'Connection: close'),
    );
    expect(x.responses.map((r) => r.status)).toEqual([200, 401]);
    expect(reasonOf(x.responses[1]!.body)).toBe(reason);
    expect(upstreamSaw(path)).toHaveLength(1);
  });

  // a refusal whose body is still pending: the body is read as a body, never as a request
  const REFUSED: [string, (path: string, body: string) => Promise<string>, number, string][] = [
    [
      'a malformed stamp, Content-Length body',
      async (p, b) => head(`POST ${p} HTTP/1.1`, 'Client-IP-Attestation: garbage', `Content-Length: ${b.length}`) + b,
      401,
      'malformed',
    ],
    ['no stamp, chunked body', async (p, b) => head(`POST ${p} HTTP/1.1`, 'Transfer-Encoding: chunked') + chunked(b), 401, 'missing'],
    [
      'a stamp for another path',
      async (p, b) => head(`POST ${p} HTTP/1.1`, `Client-IP-Attestation: ${await stampFor('POST', '/elsewhere')}`, `Content-Length: ${b.length}`) + b,
      401,
      'binding-mismatch',
    ],
    ['a dot-segment target', async (p, b) => head(`POST ${p}/../x HTTP/1.1`, `Content-Length: ${b.length}`) + b, 400, 'bad-request-target'],
    [
      'TRACE',
      async (p, b) => head(`TRACE ${p} HTTP/1.1`, `Client-IP-Attestation: ${await stampFor('TRACE', p)}`, `Content-Length: ${b.length}`) + b,
      405,
      'method-not-allowed',
    ],
    [
      'a CORS preflight with a body',
      async (p, b) => head(`OPTIONS ${p} HTTP/1.1`, 'Origin: https://app.example', 'Access-Control-Request-Method: PUT', `Content-Length: ${b.length}`) + b,
      400,
      'bad-request-target',
    ],
  ];

  it.each(REFUSED)(
    'refused (%s) with its body in the same write, then a stamped request: the refusal, then that request answered',
    async (label, make, status, reason) => {
      const id = label.replace(/[^a-z]+/gi, '-');
      const path = `/refused-${id}`;
      const x = await exchange((await make(path, await smuggled(`refused-${id}`))) + (await closing(`${path}/next`)));
      expect(x.responses.map((r) => r.status)).toEqual([status, 200]);
      expect(reasonOf(x.responses[0]!.body)).toBe(reason);
      expect(answered(x.responses[1]!.body)).toBe(`${path}/next`);
      expect(received.filter((r) => r.target.startsWith(path)).map((r) => r.target)).toEqual([`${path}/next`]);
      expectNoSmuggling();
    },
  );

  it('OPTIONS with Max-Forwards: 0 and a body: answered by the gateway, the body read as a body, the next request answered', async () => {
    const path = '/max-forwards-body';
    const body = await smuggled('max-forwards');
    const x = await exchange(
      head(`OPTIONS ${path} HTTP/1.1`, 'Max-Forwards: 0', `Content-Length: ${body.length}`, `Client-IP-Attestation: ${await stampFor('OPTIONS', path)}`) +
        body +
        (await closing(`${path}/next`)),
    );
    expect(x.responses.map((r) => r.status)).toEqual([200, 200]);
    expect(header(x.responses[0]!, 'allow')).toBeDefined();
    expect(upstreamSaw(path)).toEqual([]);
    expectNoSmuggling();
  });

  it.each(['GET', 'HEAD', 'DELETE', 'OPTIONS'])('%s with a body (no Content-Type): the body goes to the upstream as a body, framed', async (method) => {
    const path = `/body-on-${method.toLowerCase()}`;
    const body = await smuggled(`body-on-${method}`);
    const x = await exchange(
      head(`${method} ${path} HTTP/1.1`, `Content-Length: ${body.length}`, `Client-IP-Attestation: ${await stampFor(method, path)}`) +
        body +
        (await closing(`${path}/next`)),
    );
    // a HEAD answer has no body: split the two by hand
    expect(x.text.match(/HTTP\/1\.1 \d{3} [A-Z]/g)).toEqual(['HTTP/1.1 200 O', 'HTTP/1.1 200 O']);
    expect(upstreamSaw(path).map((r) => r.body)).toEqual([body]);
    expect(upstreamSaw(`${path}/next`)).toHaveLength(1);
    expectNoSmuggling();
  });
});

describe('methods and upgrades no upstream is asked for', () => {
  it('CONNECT, stamped: no answer, the connection closed, nothing forwarded (the bytes after it neither)', async () => {
    const before = received.length;
    const x = await exchange(
      `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nClient-IP-Attestation: ${await stampFor('CONNECT', '/')}\r\n\r\n${await smuggled('connect')}`,
    );
    expect(x.text).toBe('');
    expect(x.closed).toBe(true);
    expect(received.length).toBe(before);
  });

  it.each([
    ['websocket', ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']],
    ['h2c', ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__']],
  ])(
    'an Upgrade (%s), stamped: forwarded as a plain request without Upgrade or Connection; the bytes after it are never parsed, never forwarded',
    async (id, lines) => {
      const path = `/upgrade-${id}`;
      const bytes = head(`GET ${path} HTTP/1.1`, ...lines, `Client-IP-Attestation: ${await stampFor('GET', path)}`) + (await smuggled(`upgrade-${id}`));
      // the connection stays open after the answer: the client closes it once the answer came
      const x = await exchange((socket) => {
        socket.write(bytes);
        socket.once('data', () => socket.end());
      });
      // had the bytes after it been parsed (with the first request), they would be upstream by now
      await sentinel();
      expect(x.responses.map((r) => r.status)).toEqual([200]);
      const [got] = upstreamSaw(path);
      expect(got!.lines.map(([n]) => n)).not.toContain('upgrade');
      expect(got!.lines.map(([n]) => n)).not.toContain('http2-settings');
      expect(got!.lines.filter(([n]) => n === 'connection').map(([, v]) => v)).toEqual(['keep-alive']);
      expectNoSmuggling();
    },
  );

  it('an Upgrade, stamped, then another request once its answer came: the connection goes on, that request verified on its own', async () => {
    const path = '/upgrade-then';
    const first = head(`GET ${path} HTTP/1.1`, 'Connection: Upgrade', 'Upgrade: websocket', `Client-IP-Attestation: ${await stampFor('GET', path)}`);
    const second = await closing(`${path}/second`);
    const x = await exchange((socket) => {
      socket.write(first);
      socket.once('data', () => socket.write(second));
    });
    expect(x.responses.map((r) => answered(r.body))).toEqual([path, `${path}/second`]);
  });

  it('Upgrade without Connection: upgrade is no upgrade: stripped by its own name (hop-by-hop); the next request is verified on its own', async () => {
    const path = '/upgrade-alone';
    const x = await exchange(
      head(`GET ${path} HTTP/1.1`, 'Upgrade: websocket', `Client-IP-Attestation: ${await stampFor('GET', path)}`) + (await closing(`${path}/next`)),
    );
    expect(x.responses.map((r) => answered(r.body))).toEqual([path, `${path}/next`]);
    expect(upstreamSaw(path)[0]!.lines.map(([n]) => n)).not.toContain('upgrade');
  });
});

describe('an answer refusing an Expect: 100-continue upload closes the connection: nothing pipelined behind it is acted on', () => {
  // RFC 9112 §9.6: a server that sent close must not process further requests on that connection
  const refusedUpload = async (path: string): Promise<{ head: string; rest: string }> => {
    const body = await smuggled(path.slice(1));
    return {
      head: head(`POST ${path} HTTP/1.1`, 'Expect: 100-continue', 'Content-Type: text/plain', `Content-Length: ${body.length}`),
      rest: body + (await closing(`${path}/next`)),
    };
  };

  it('the body sent without waiting and a stamped request, in one write: 401, closed; that request is never forwarded', async () => {
    const path = '/expect-one-write';
    const { head: h, rest } = await refusedUpload(path);
    const x = await exchange(h + rest);
    expect(x.responses.map((r) => r.status)).toEqual([401]);
    expect(header(x.responses[0]!, 'connection')).toBe('close');
    expect(x.closed).toBe(true);
    await sentinel();
    expect(received.filter((r) => r.target.startsWith(path))).toEqual([]);
    expectNoSmuggling();
  });

  it('the body and a stamped request sent once the 401 arrived (the connection still lingers, reading): never forwarded', async () => {
    const path = '/expect-after-refusal';
    const { head: h, rest } = await refusedUpload(path);
    const x = await exchange((socket) => {
      socket.write(h);
      socket.once('data', () => socket.write(rest));
    });
    expect(x.responses.map((r) => r.status)).toEqual([401]);
    expect(x.closed).toBe(true);
    await sentinel();
    expect(received.filter((r) => r.target.startsWith(path))).toEqual([]);
    expectNoSmuggling();
  });
});

describe('the pooled upstream connections: no answer reaches another request', () => {
  it.each([
    ['/extra', 'a second, unrequested response behind its answer'],
    ['/long', 'more bytes than its Content-Length'],
  ])('an upstream that sends %s (%s): that connection is dropped; the next requests, same client and another, get their own answers', async (path) => {
    const x = await exchange(head(`GET ${path} HTTP/1.1`, `Client-IP-Attestation: ${await stampFor('GET', path)}`) + (await closing(`${path}/same-client`)));
    const other = await exchange(await closing(`${path}/other-client`));
    const answers = [...x.responses, ...other.responses];
    expect(answers.map((r) => answered(r.body))).toEqual([path, `${path}/same-client`, `${path}/other-client`]);
    for (const answer of answers) expect(header(answer, 'x-forged')).toBeUndefined();
    const conn = upstreamSaw(path)[0]!.conn;
    expect(upstreamSaw(`${path}/same-client`)[0]!.conn).not.toBe(conn);
    expect(upstreamSaw(`${path}/other-client`)[0]!.conn).not.toBe(conn);
  });

  it("an upstream that answers before reading the body: the client gets that answer; the body still reaches the upstream framed, and the next client's answer is its own", async () => {
    const body = await smuggled('early');
    const x = await exchange(
      head(
        'POST /early HTTP/1.1',
        'Content-Type: text/plain',
        `Content-Length: ${body.length}`,
        `Client-IP-Attestation: ${await stampFor('POST', '/early')}`,
        'Connection: close',
      ) + body,
    );
    expect(x.responses.map((r) => [r.status, r.body])).toEqual([[200, 'early']]);
    const other = await exchange(await closing('/early/other-client'));
    expect(other.responses.map((r) => answered(r.body))).toEqual(['/early/other-client']);
    expect(upstreamSaw('/early').map((r) => r.body)).toEqual([body]);
    expectNoSmuggling();
  });

  it("a client that resets halfway through its body: the upstream never gets the rest as a request, and the next client's answer is its own", async () => {
    const path = '/reset-mid-body';
    const socket = connect(gateway.port, '127.0.0.1');
    socket.on('error', () => undefined);
    const partial = await smuggled('reset');
    socket.write(
      head(`POST ${path} HTTP/1.1`, 'Content-Type: text/plain', 'Content-Length: 4096', `Client-IP-Attestation: ${await stampFor('POST', path)}`) + partial,
    );
    // the gateway is streaming the body to the upstream: the head and the part sent have arrived
    await waitFor(
      'the upstream to receive the partial body',
      () => rawByConn.some((raw) => raw.includes(`POST ${path} `) && raw.includes('/smuggled-reset')),
      10_000,
    );
    socket.resetAndDestroy();
    const other = await exchange(await closing(`${path}/other-client`));
    expect(other.responses.map((r) => answered(r.body))).toEqual([`${path}/other-client`]);
    expect(upstreamSaw(path)).toEqual([]);
    expectNoSmuggling();
  });
});
