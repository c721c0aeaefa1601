import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, createStamper, generateStampKey } from '../../client/index.node.js';
import { freePort, listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { header, headerLines, rawExchange } from './raw-http.js';
import { waitFor } from './stamped-traffic.js';

/**
 * The gateway as a reverse proxy (RFC 9110 §7.6): what crosses it in each direction, what it
 * writes for the upstream, how it refuses, and how it stops.
 */

interface Seen {
  method: string;
  url: string;
  httpVersion: string;
  /** Header lines as the upstream received them: [name, value], names lower-cased, in order. */
  lines: [string, string][];
  body: string;
}

const scratch = scratchDir();
const seen: Seen[] = [];
const held: ServerResponse[] = [];
let upstream: Server;
let upstreamPort: number;
let gateway: RunningServe;
let key: TestKeyPair;
let keysFile: string;

function lineValues(record: Seen, name: string): string[] {
  return record.lines.filter(([n]) => n === name).map(([, v]) => v);
}

/**
 * A header name as the weakest CGI upstream reads it: case does not count, and lighttpd (CGI,
 * FastCGI, SCGI) reads every character but a letter or digit as `_`, as CGI, WSGI and Rack read `-`.
 */
function cgiName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '-');
}

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  const lines = headerLines(req.rawHeaders);
  const record: Seen = { method: req.method!, url: req.url!, httpVersion: req.httpVersion, lines, body };
  seen.push(record);
  if (req.url === '/hold') {
    held.push(res);
    return;
  }
  if (req.url === '/never') return;
  if (req.url === '/stall') {
    // the head and a first chunk, then nothing more
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial;');
    held.push(res);
    return;
  }
  if (req.url === '/obs-text') {
    // a head sent ahead of a Buffer body is written as latin1 (ahead of a string, in the
    // string's encoding): this value is the bytes 63 61 66 E9 FF on the wire
    const json = JSON.stringify(record);
    res.writeHead(200, { 'content-type': 'application/json', 'x-up-name': 'caf\u00e9\u00ff' });
    res.end(Buffer.from(json));
    return;
  }
  const odd = /^\/status-(\d+)$/.exec(req.url!);
  if (odd) {
    // a status no client can be given (Node writes any from 100 to 999)
    res.writeHead(Number(odd[1]), { 'content-type': 'text/plain' });
    res.end('odd');
    return;
  }
  if (req.url === '/hop') {
    // everything here is about the upstream's own connection, never the client's
    res.writeHead(200, {
      'content-type': 'text/plain',
      connection: 'X-Up-Private, keep-alive',
      'x-up-private': 'secret',
      'keep-alive': 'timeout=99',
      'proxy-connection': 'keep-alive',
      trailer: 'X-Checksum',
      'x-up-public': 'kept',
    });
    res.write('part one;');
    res.addTrailers({ 'x-checksum': 'abc' });
    res.end('part two');
    return;
  }
  const json = JSON.stringify(record);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'x-upstream': 'yes' });
  res.end(req.method === 'HEAD' ? undefined : json);
}

async function stampFor(method: string, url: string, body?: string): Promise<string> {
  return createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: body !== undefined }).stamp({ method, url, body });
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/early') {
      // answers at once, before the request's body has arrived
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 }).end('early');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString()));
  });
  upstreamPort = await listenOnFreePort(upstream);
  key = await makeKey('ES256', 'gw-proxy');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
  gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--body-limit', '1024'], 'gateway');
});
afterAll(async () => {
  for (const res of held) res.destroy();
  await gateway?.stop();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

describe('connections: hop-by-hop headers and HTTP/1.0', () => {
  it('a client that sends Connection: close gets its answer and a closed connection', async () => {
    const path = '/close-me';
    const token = await stampFor('GET', `${gateway.url}${path}`);
    const exchange = await rawExchange(
      gateway.port,
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nConnection: close\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
    );
    expect(exchange.responses[0]?.status).toBe(200);
    expect(header(exchange.responses[0]!, 'connection')).toBe('close');
    expect(exchange.closed).toBe(true);
  });

  it('an HTTP/1.0 client (GET, and POST with a body) gets its answer and a closed connection', async () => {
    const token = await stampFor('GET', `${gateway.url}/old`);
    const get = await rawExchange(gateway.port, `GET /old HTTP/1.0\r\nHost: 127.0.0.1:${gateway.port}\r\nClient-IP-Attestation: ${token}\r\n\r\n`);
    expect(get.closed).toBe(true);
    expect(get.responses[0]?.statusLine).toMatch(/^HTTP\/1\.[01] 200/);
    expect(JSON.parse(get.responses[0]!.body)).toMatchObject({ method: 'GET', url: '/old' });

    const body = 'amount=5';
    const postToken = await stampFor('POST', `${gateway.url}/old-post`);
    const post = await rawExchange(
      gateway.port,
      `POST /old-post HTTP/1.0\r\nHost: 127.0.0.1:${gateway.port}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nClient-IP-Attestation: ${postToken}\r\n\r\n${body}`,
    );
    expect(post.closed).toBe(true);
    expect(JSON.parse(post.responses[0]!.body)).toMatchObject({ method: 'POST', url: '/old-post', body });
  });

  it("the client's hop-by-hop headers never reach the upstream (Connection, what it names, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade)", async () => {
    const path = '/hop-in';
    const token = await stampFor('POST', `${gateway.url}${path}`);
    const exchange = await rawExchange(
      gateway.port,
      [
        `POST ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${gateway.port}`,
        'Connection: close, X-Client-Private, TE',
        'X-Client-Private: only for the gateway',
        'Keep-Alive: timeout=5',
        'Proxy-Connection: keep-alive',
        'TE: trailers',
        'Trailer: X-Sum',
        'Upgrade: h2c',
        'Transfer-Encoding: chunked',
        'Content-Type: text/plain',
        `Client-IP-Attestation: ${token}`,
        '',
        '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n',
      ].join('\r\n'),
    );
    const got = JSON.parse(exchange.responses[0]!.body) as Seen;
    expect(got.body).toBe('hello world');
    const names = got.lines.map(([n]) => n);
    for (const hop of ['x-client-private', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']) expect(names).not.toContain(hop);
    // the gateway frames its own request; the client's Connection tokens are not in it
    for (const value of lineValues(got, 'connection')) expect(value.toLowerCase()).not.toMatch(/x-client-private|te\b|close/);
  });

  it("the upstream's hop-by-hop headers and trailers never reach the client", async () => {
    const token = await stampFor('GET', `${gateway.url}/hop`);
    const exchange = await rawExchange(
      gateway.port,
      `GET /hop HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nConnection: close\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
    );
    const response = exchange.responses[0]!;
    expect(response.status).toBe(200);
    expect(response.body).toBe('part one;part two');
    expect(header(response, 'x-up-public')).toBe('kept');
    const names = response.headers.map(([n]) => n);
    for (const hop of ['x-up-private', 'keep-alive', 'proxy-connection', 'trailer']) expect(names).not.toContain(hop);
    expect(header(response, 'connection')).toBe('close');
    expect(exchange.closed).toBe(true);
  });

  it('Expect: 100-continue is answered by the gateway and not forwarded; the body arrives', async () => {
    const path = '/continue';
    const body = 'after the interim answer';
    const token = await stampFor('PUT', `${gateway.url}${path}`);
    const exchange = await rawExchange(gateway.port, (socket) => {
      socket.write(
        `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
      );
      let sent = false;
      socket.on('data', (d: string) => {
        if (!sent && d.startsWith('HTTP/1.1 100')) {
          sent = true;
          socket.write(body);
        }
      });
    });
    const final = exchange.responses.at(-1)!;
    expect(final.status).toBe(200);
    const got = JSON.parse(final.body) as Seen;
    expect(got.body).toBe(body);
    expect(got.lines.map(([n]) => n)).not.toContain('expect');
  });
});

describe('bodies and methods', () => {
  it('Max-Forwards on OPTIONS (RFC 9110 §7.6.2): 0 is answered by the gateway after the stamp check, more goes on lowered by one', async () => {
    const before = seen.length;
    const options = async (path: string, maxForwards: string, stamped = true) =>
      fetch(`${gateway.url}${path}`, {
        method: 'OPTIONS',
        headers: { 'max-forwards': maxForwards, ...(stamped && { 'client-ip-attestation': await stampFor('OPTIONS', `${gateway.url}${path}`) }) },
      });
    const last = await options('/mf-0', '0');
    expect([last.status, last.headers.get('allow'), await last.text()]).toEqual([200, 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', '']);
    expect((await options('/mf-0', '0', false)).status).toBe(401);
    expect(seen.length).toBe(before);
    expect((await options('/mf-5', '5')).headers.get('x-upstream')).toBe('yes');
    expect(lineValues(seen.at(-1)!, 'max-forwards')).toEqual(['4']);
    // other methods may ignore it (§7.6.2): forwarded as received
    const token = await stampFor('GET', `${gateway.url}/mf-get`);
    await fetch(`${gateway.url}/mf-get`, { headers: { 'max-forwards': '0', 'client-ip-attestation': token } });
    expect(lineValues(seen.at(-1)!, 'max-forwards')).toEqual(['0']);
  });

  it('header bytes outside ASCII (obs-text) cross unchanged both ways, not re-encoded as UTF-8', async () => {
    const token = await stampFor('GET', `${gateway.url}/obs-text`);
    const exchange = await rawExchange(
      gateway.port,
      Buffer.concat([
        Buffer.from(`GET /obs-text HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nConnection: close\r\nX-Client-Name: caf`),
        Buffer.from([0xe9, 0xff]),
        Buffer.from(`\r\nClient-IP-Attestation: ${token}\r\n\r\n`),
      ]),
    );
    const response = exchange.responses[0]!;
    expect(response.status).toBe(200);
    // header values read as latin1 on both sides (one character per byte); the upstream's
    // report of them is JSON in UTF-8
    const seenUpstream = JSON.parse(Buffer.from(response.body, 'latin1').toString('utf8')) as Seen;
    expect(lineValues(seenUpstream, 'x-client-name')).toEqual(['caf\u00e9\u00ff']);
    expect(header(response, 'x-up-name')).toBe('caf\u00e9\u00ff');
  });

  it("/metrics is the upstream's: the gateway serves no counters unless --metrics-path is given", async () => {
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    const token = await stampFor('GET', `${gateway.url}/metrics`);
    const response = await fetch(`${gateway.url}/metrics`, { headers: { 'client-ip-attestation': token } });
    expect(response.headers.get('x-upstream')).toBe('yes');
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/metrics' });
  });

  it("HEAD: the upstream's Content-Length, no body", async () => {
    const token = await stampFor('HEAD', `${gateway.url}/head`);
    const response = await fetch(`${gateway.url}/head`, { method: 'HEAD', headers: { 'client-ip-attestation': token } });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await response.text()).toBe('');
    expect(seen.at(-1)).toMatchObject({ method: 'HEAD', url: '/head' });
  });

  it('a body on a GET (which Fastify does not parse) still reaches the upstream', async () => {
    const token = await stampFor('GET', `${gateway.url}/get-with-body`);
    const exchange = await rawExchange(
      gateway.port,
      `GET /get-with-body HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nConnection: close\r\nContent-Length: 4\r\nClient-IP-Attestation: ${token}\r\n\r\nabcd`,
    );
    expect(JSON.parse(exchange.responses[0]!.body)).toMatchObject({ url: '/get-with-body', body: 'abcd' });
  });

  it("an upstream that answers before the client's body has all arrived: that answer closes the connection, which cannot be reused", async () => {
    const token = await stampFor('POST', `${gateway.url}/early`);
    const socket = connect(gateway.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    try {
      // 10 of the 1000 bytes it declared: the rest never comes
      socket.write(
        `POST /early HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\nClient-IP-Attestation: ${token}\r\n\r\n0123456789`,
      );
      await waitFor('the early answer', () => text.endsWith('early'), 10_000);
      const [head] = text.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      expect(head!.toLowerCase()).toContain('\r\nconnection: close');
    } finally {
      socket.destroy();
    }
  });

  it('a client that goes away takes its upstream request with it', async () => {
    const heldBefore = held.length;
    const token = await stampFor('GET', `${gateway.url}/hold`);
    let closedAtUpstream = false;
    const socket = connect(gateway.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`GET /hold HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nClient-IP-Attestation: ${token}\r\n\r\n`);
    await waitFor('the upstream to hold the request', () => held.length > heldBefore, 10_000);
    held.at(-1)!.once('close', () => (closedAtUpstream = true));
    socket.destroy();
    await waitFor('the upstream request to be aborted', () => closedAtUpstream, 10_000);
  });
});

describe('what the upstream is told', () => {
  const OURS = [
    'x-attested-client-ip',
    'x-attested-client-ip-agreement',
    'x-attested-client-ip-source',
    'x-attested-client-ip-issuer',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'forwarded',
    'x-real-ip',
  ];

  it("client-sent copies of the gateway's headers are removed in every spelling (case, any non-alphanumeric for -): only the gateway's own arrive", async () => {
    const path = '/spellings';
    const token = await stampFor('GET', `${gateway.url}${path}`);
    const forged = [
      'X_Attested_Client_IP: 203.0.113.66',
      'x-attested-client-ip: 203.0.113.67',
      'X-ATTESTED-CLIENT-IP_AGREEMENT: match',
      'x_attested_client_ip_source: ticket',
      'X-Attested-Client-IP-Issuer: https://evil.example',
      'X-Attested-Client-IP-Extra: 1',
      'X_Forwarded_For: 203.0.113.5',
      'X-Forwarded-For: 203.0.113.8',
      'x_forwarded_proto: https',
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Port: 443',
      'Forwarded: for=203.0.113.7;proto=https',
      'X-Real-IP: 203.0.113.6',
      'X_Real_Ip: 203.0.113.9',
      // lighttpd makes HTTP_X_ATTESTED_CLIENT_IP of each of these
      'X.Attested.Client.IP: 203.0.113.70',
      "X'Attested'Client'IP: 203.0.113.71",
      'X~Attested~Client~IP: 203.0.113.72',
      'X-Attested-Client.IP.Agreement: match',
      'X.Forwarded.For: 203.0.113.73',
      'X~Real~IP: 203.0.113.74',
      // address claims other platforms and snippets read, and request-target overrides
      'Client-IP: 203.0.113.75',
      'X-Forwarded: for=203.0.113.76',
      'X-ForwardedFor: 203.0.113.77',
      'Forwarded-For: 203.0.113.78',
      'Fly-Client-IP: 203.0.113.79',
      'X-Envoy-External-Address: 203.0.113.80',
      'X-Original-URL: /admin',
      'X.Rewrite.URL: /admin',
      'X-HTTP-Method-Override: DELETE',
    ];
    const exchange = await rawExchange(
      gateway.port,
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nConnection: close\r\n${forged.join('\r\n')}\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
    );
    const got = JSON.parse(exchange.responses[0]!.body) as Seen;
    const byCgiName = (name: string) => got.lines.filter(([n]) => cgiName(n) === name).map(([n, v]) => `${n}: ${v}`);
    expect(byCgiName('x-attested-client-ip')).toEqual(['x-attested-client-ip: 127.0.0.1']);
    expect(byCgiName('x-attested-client-ip-agreement')).toEqual(['x-attested-client-ip-agreement: match']);
    expect(byCgiName('x-attested-client-ip-source')).toEqual(['x-attested-client-ip-source: stamp']);
    expect(byCgiName('x-attested-client-ip-issuer')).toEqual([]);
    expect(byCgiName('x-attested-client-ip-extra')).toEqual([]);
    expect(byCgiName('x-forwarded-for')).toEqual(['x-forwarded-for: 127.0.0.1']);
    expect(byCgiName('x-forwarded-proto')).toEqual(['x-forwarded-proto: http']);
    expect(byCgiName('x-forwarded-host')).toEqual([`x-forwarded-host: 127.0.0.1:${gateway.port}`]);
    expect(byCgiName('x-forwarded-port')).toEqual([]);
    expect(byCgiName('forwarded')).toEqual([]);
    expect(byCgiName('x-real-ip')).toEqual([]);
    for (const name of [
      'client-ip',
      'x-forwarded',
      'x-forwardedfor',
      'forwarded-for',
      'fly-client-ip',
      'x-envoy-external-address',
      'x-original-url',
      'x-rewrite-url',
      'x-http-method-override',
    ]) {
      expect(byCgiName(name)).toEqual([]);
    }
    // nothing else spelled like one of ours slipped through under another name
    expect(got.lines.filter(([n]) => OURS.includes(cgiName(n))).length).toBe(6);
    expect(got.lines.filter(([, v]) => v.includes('203.0.113.'))).toEqual([]);
    expect(got.lines.map(([n]) => n)).not.toContain('client-ip-attestation');
  });

  it('behind a trusted proxy, X-Forwarded-For is the one address the gateway observed, not the chain it was sent', async () => {
    const behind = await startServe(
      ['--port', '0', '--keys', keysFile, '--trusted-proxies', '127.0.0.1', '--upstream', `http://127.0.0.1:${upstreamPort}`],
      'gateway',
    );
    try {
      const url = `${behind.url}/behind`;
      const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.9' }).stamp({ method: 'GET', url });
      // the "proxy" (127.0.0.1, trusted) says the client is 127.0.0.9; the client had claimed 203.0.113.1
      const response = await fetch(url, { headers: { 'client-ip-attestation': token, 'x-forwarded-for': '203.0.113.1, 127.0.0.9' } });
      expect(response.status).toBe(200);
      const got = (await response.json()) as Seen;
      expect(lineValues(got, 'x-forwarded-for')).toEqual(['127.0.0.9']);
      expect(lineValues(got, 'x-attested-client-ip')).toEqual(['127.0.0.9']);
      expect(lineValues(got, 'x-attested-client-ip-agreement')).toEqual(['match']);
    } finally {
      await behind.stop();
    }
  });

  it("with --forwarded-header, the proxy's header the gateway read its address from stops at the gateway, in every spelling", async () => {
    const behind = await startServe(
      [
        '--port',
        '0',
        '--keys',
        keysFile,
        '--trusted-proxies',
        '127.0.0.1',
        '--forwarded-header',
        'x-edge-client',
        '--upstream',
        `http://127.0.0.1:${upstreamPort}`,
      ],
      'gateway',
    );
    try {
      const url = `${behind.url}/edge-header`;
      const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.9' }).stamp({ method: 'GET', url });
      const exchange = await rawExchange(
        behind.port,
        `GET /edge-header HTTP/1.1\r\nHost: 127.0.0.1:${behind.port}\r\nConnection: close\r\nX-Edge-Client: 127.0.0.9\r\nX_Edge.Client: 203.0.113.50\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
      );
      const got = JSON.parse(exchange.responses[0]!.body) as Seen;
      expect(lineValues(got, 'x-forwarded-for')).toEqual(['127.0.0.9']);
      expect(got.lines.filter(([n]) => cgiName(n) === 'x-edge-client')).toEqual([]);
    } finally {
      await behind.stop();
    }
  });

  it('behind a TLS-terminating trusted proxy, X-Forwarded-Proto is the scheme the client used, as the binding check believed it', async () => {
    const behind = await startServe(
      ['--port', '0', '--keys', keysFile, '--trusted-proxies', '127.0.0.1', '--upstream', `http://127.0.0.1:${upstreamPort}`],
      'gateway',
    );
    try {
      const url = `https://127.0.0.1:${behind.port}/behind-tls`;
      const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.9' }).stamp({ method: 'GET', url });
      const response = await fetch(`${behind.url}/behind-tls`, {
        headers: { 'client-ip-attestation': token, 'x-forwarded-for': '127.0.0.9', 'x-forwarded-proto': 'https' },
      });
      expect(response.status).toBe(200);
      const got = (await response.json()) as Seen;
      expect(lineValues(got, 'x-forwarded-proto')).toEqual(['https']);
      // from an untrusted client the same header is the client's word: the connection decides
      const direct = await fetch(`${gateway.url}/direct`, {
        headers: { 'client-ip-attestation': await stampFor('GET', `${gateway.url}/direct`), 'x-forwarded-proto': 'https' },
      });
      expect(direct.status).toBe(200);
      expect(lineValues((await direct.json()) as Seen, 'x-forwarded-proto')).toEqual(['http']);
    } finally {
      await behind.stop();
    }
  });

  /** Sends a stamped GET to `port` with the Host line written as given, and returns what the upstream saw. */
  function withHost(port: number, path: string, host: string, token: string): Promise<Seen> {
    return new Promise<Seen>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, 'client-ip-attestation': token } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text) as Seen) : reject(new Error(`${res.statusCode} ${text}`))));
      });
      req.once('error', reject);
      req.end();
    });
  }

  it("the client's Host arrives as received; X-Forwarded-Host is the authority the stamp was bound to", async () => {
    const got = await withHost(gateway.port, '/host-check', 'api.example.com', await stampFor('GET', 'http://api.example.com/host-check'));
    expect(lineValues(got, 'host')).toEqual(['api.example.com']);
    expect(lineValues(got, 'x-forwarded-host')).toEqual(['api.example.com']);
    // the same origin spelled another way: htu (and so X-Forwarded-Host) is its normalised form
    const spelled = await withHost(gateway.port, '/host-spelled', 'API.Example.COM:80', await stampFor('GET', 'http://api.example.com/host-spelled'));
    expect(lineValues(spelled, 'host')).toEqual(['API.Example.COM:80']);
    expect(lineValues(spelled, 'x-forwarded-host')).toEqual(['api.example.com']);
  });

  it("with --origin, X-Forwarded-Host is that origin's authority, not the Host the client wrote", async () => {
    const withOrigin = await startServe(
      ['--port', '0', '--keys', keysFile, '--origin', 'https://api.example.com', '--upstream', `http://127.0.0.1:${upstreamPort}`],
      'gateway',
    );
    try {
      const got = await withHost(withOrigin.port, '/reset', 'evil.example', await stampFor('GET', 'https://api.example.com/reset'));
      expect(lineValues(got, 'host')).toEqual(['evil.example']);
      expect(lineValues(got, 'x-forwarded-host')).toEqual(['api.example.com']);
    } finally {
      await withOrigin.stop();
    }
  });

  it('with several --origin values, X-Forwarded-Host is the one the stamp named, not the one Host names', async () => {
    const withOrigins = await startServe(
      ['--port', '0', '--keys', keysFile, '--origin', 'https://a.example,https://b.example:8443', '--upstream', `http://127.0.0.1:${upstreamPort}`],
      'gateway',
    );
    try {
      // the binding check compares htu with the set of origins, not with Host: this one verifies
      const got = await withHost(withOrigins.port, '/pick', 'b.example:8443', await stampFor('GET', 'https://a.example/pick'));
      expect(lineValues(got, 'host')).toEqual(['b.example:8443']);
      expect(lineValues(got, 'x-forwarded-host')).toEqual(['a.example']);
      const named = await withHost(withOrigins.port, '/named', 'evil.example', await stampFor('GET', 'https://b.example:8443/named'));
      expect(lineValues(named, 'x-forwarded-host')).toEqual(['b.example:8443']);
    } finally {
      await withOrigins.stop();
    }
  });

  it('a ticket-attested request says so: X-Attested-Client-IP-Source: ticket and the issuer', async () => {
    const EDGE = 'http://edge.example';
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    const { d: _private, ...issuerPublic } = issuerKey;
    const issuers = scratch.file('issuers.json', { [EDGE]: { keys: [issuerPublic] } });
    const edge = await startServe(
      [
        '--port',
        '0',
        '--issuers',
        issuers,
        '--issuer-key',
        scratch.file('issuer.json', issuerKey),
        '--issuer-origin',
        EDGE,
        '--upstream',
        `http://127.0.0.1:${upstreamPort}`,
      ],
      'gateway',
    );
    try {
      const stampedFetch = createStampedFetch({ key: await generateStampKey({ alg: 'ES256' }), ip: 'ticket', issuer: edge.url });
      const response = await stampedFetch(`${edge.url}/with-ticket`);
      expect(response.status).toBe(200);
      const got = (await response.json()) as Seen;
      expect(lineValues(got, 'x-attested-client-ip')).toEqual(['127.0.0.1']);
      expect(lineValues(got, 'x-attested-client-ip-source')).toEqual(['ticket']);
      expect(lineValues(got, 'x-attested-client-ip-issuer')).toEqual([EDGE]);
      expect(got.lines.map(([n]) => n)).not.toContain('client-ip-ticket');
    } finally {
      await edge.stop();
    }
  });

  it('an upstream URL with a base path: /x goes to /base/x, the query kept', async () => {
    const based = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}/base`], 'gateway');
    try {
      for (const [path, expected] of [
        ['/x?q=1&r=%20', '/base/x?q=1&r=%20'],
        ['/', '/base/'],
      ] as const) {
        const token = await stampFor('GET', `${based.url}${path}`);
        const got = (await (await fetch(`${based.url}${path}`, { headers: { 'client-ip-attestation': token } })).json()) as Seen;
        expect(got.url).toBe(expected);
      }
    } finally {
      await based.stop();
    }
  });
});

describe('refusals are problem+json with a reason', () => {
  async function problemOf(response: Response): Promise<{ status: number; contentType: string | null; body: Record<string, unknown> }> {
    return { status: response.status, contentType: response.headers.get('content-type'), body: (await response.json()) as Record<string, unknown> };
  }

  it('413 body-too-large: a signed body over --body-limit, never forwarded', async () => {
    const before = seen.length;
    const body = 'x'.repeat(4096);
    const url = `${gateway.url}/big`;
    const token = await stampFor('POST', url, body);
    const problem = await problemOf(await fetch(url, { method: 'POST', body, headers: { 'client-ip-attestation': token, 'content-type': 'text/plain' } }));
    expect(problem).toEqual({
      status: 413,
      contentType: 'application/problem+json',
      body: { type: 'urn:ipstamp:body-too-large', title: expect.any(String), status: 413, reason: 'body-too-large' },
    });
    expect(seen.length).toBe(before);
  });

  it('429 rate-limited: the ticket route over its limit', async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-2', alg: 'EdDSA' };
    const edge = await startServe(
      [
        '--port',
        '0',
        '--keys',
        keysFile,
        '--issuer-key',
        scratch.file('issuer2.json', issuerKey),
        '--ticket-rate-limit',
        '1',
        '--upstream',
        `http://127.0.0.1:${upstreamPort}`,
      ],
      'gateway',
    );
    try {
      const ticketUrl = `${edge.url}/.well-known/ipstamp/ticket`;
      await fetch(ticketUrl, { method: 'POST' }).then((r) => r.arrayBuffer());
      const second = await fetch(ticketUrl, { method: 'POST' });
      expect(second.headers.get('retry-after')).not.toBeNull();
      expect(await problemOf(second)).toEqual({
        status: 429,
        contentType: 'application/problem+json',
        body: { type: 'urn:ipstamp:rate-limited', title: expect.any(String), status: 429, reason: 'rate-limited' },
      });
    } finally {
      await edge.stop();
    }
  });

  it('502 upstream-unavailable: an upstream that is down, without saying where it lives', async () => {
    const closed = await freePort();
    const down = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${closed}`], 'gateway');
    try {
      const url = `${down.url}/x`;
      const problem = await problemOf(await fetch(url, { headers: { 'client-ip-attestation': await stampFor('GET', url) } }));
      expect(problem).toEqual({
        status: 502,
        contentType: 'application/problem+json',
        body: { type: 'urn:ipstamp:upstream-unavailable', title: expect.any(String), status: 502, reason: 'upstream-unavailable' },
      });
      expect(JSON.stringify(problem.body)).not.toContain(String(closed));
    } finally {
      await down.stop();
    }
  });

  it.each([600, 999])('502 upstream-unavailable: an upstream status outside 200-599 (%i), logged, never a Fastify 500', async (status) => {
    const url = `${gateway.url}/status-${status}`;
    const problem = await problemOf(await fetch(url, { headers: { 'client-ip-attestation': await stampFor('GET', url) } }));
    expect(problem).toEqual({
      status: 502,
      contentType: 'application/problem+json',
      body: { type: 'urn:ipstamp:upstream-unavailable', title: expect.any(String), status: 502, reason: 'upstream-unavailable' },
    });
    expect(JSON.stringify(problem.body)).not.toContain(String(status));
    await waitFor('the warning in the log', () => gateway.output().includes(`"status":${status}`), 10_000);
    expect(gateway.output()).toMatch(/status outside 200-599/);
  });

  it('504 upstream-timeout: an upstream that never answers within --upstream-timeout', async () => {
    const slow = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--upstream-timeout', '1'], 'gateway');
    try {
      const url = `${slow.url}/never`;
      const problem = await problemOf(await fetch(url, { headers: { 'client-ip-attestation': await stampFor('GET', url) } }));
      expect(problem).toEqual({
        status: 504,
        contentType: 'application/problem+json',
        body: { type: 'urn:ipstamp:upstream-timeout', title: expect.any(String), status: 504, reason: 'upstream-timeout' },
      });
    } finally {
      await slow.stop();
    }
  });
});

describe('an upstream that stalls halfway through its body', () => {
  it('is cut after --upstream-timeout: the client gets what came and a closed connection, never an answer that looks complete', async () => {
    const slow = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--upstream-timeout', '1'], 'gateway');
    try {
      const token = await stampFor('GET', `${slow.url}/stall`);
      // read by hand: the answer is cut inside its chunked body, which rawExchange's parser does not expect
      const text = await new Promise<string>((resolve) => {
        const socket = connect(slow.port, '127.0.0.1');
        let received = '';
        socket.setEncoding('latin1');
        socket.on('data', (d: string) => (received += d));
        socket.on('error', () => undefined);
        socket.once('close', () => resolve(received));
        socket.write(`GET /stall HTTP/1.1\r\nHost: 127.0.0.1:${slow.port}\r\nClient-IP-Attestation: ${token}\r\n\r\n`);
      });
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(text).toContain('partial;');
      // the last chunk of a complete chunked body never came
      expect(text).not.toMatch(/\r\n0\r\n\r\n$/);
    } finally {
      await slow.stop();
    }
  }, 20_000);
});

describe('an upstream that never completes the TCP handshake', () => {
  it('504 upstream-timeout, not 502: the connect wait is bounded by --upstream-timeout too', async () => {
    // a listener whose process stops accepting once it listens: two connections fill its
    // backlog of 1, and the kernel drops every later SYN, so a connect neither succeeds nor fails
    const stuck = spawn(
      process.execPath,
      [
        '-e',
        "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { process.stdout.write(this.address().port + '\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000); });",
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const fillers: Socket[] = [];
    try {
      const port = Number(await new Promise<string>((resolve) => stuck.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      for (let i = 0; i < 2; i++) {
        const filler = connect(port, '127.0.0.1');
        filler.on('error', () => undefined);
        fillers.push(filler);
        await new Promise((resolve) => filler.once('connect', resolve));
      }
      const unreachable = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${port}`, '--upstream-timeout', '1'], 'gateway');
      try {
        const url = `${unreachable.url}/x`;
        const response = await fetch(url, { headers: { 'client-ip-attestation': await stampFor('GET', url) } });
        expect([response.status, ((await response.json()) as { reason: string }).reason]).toEqual([504, 'upstream-timeout']);
      } finally {
        await unreachable.stop();
      }
    } finally {
      for (const filler of fillers) filler.destroy();
      stuck.kill();
    }
  }, 20_000);
});

describe('readiness and shutdown', () => {
  it('GET /.well-known/ipstamp/ready answers 200 without a stamp and is never forwarded', async () => {
    const before = seen.length;
    const response = await fetch(`${gateway.url}/.well-known/ipstamp/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ready: true });
    expect(seen.length).toBe(before);
  });

  it('plain serve (no --upstream) has the readiness route too', async () => {
    const plain = await startServe(['--port', '0', '--keys', keysFile]);
    try {
      const response = await fetch(`${plain.url}/.well-known/ipstamp/ready`);
      expect([response.status, await response.json()]).toEqual([200, { ready: true }]);
      expect(plain.startLine).toMatch(/^ipstamp serve: listening on /);
    } finally {
      await plain.stop();
    }
  });

  it('SIGTERM: readiness turns 503, the in-flight request completes (Connection: close), then the process exits', async () => {
    const draining = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`], 'gateway');
    const events: string[] = [];
    void draining.exited.then((code) => events.push(`exit ${code}`));
    // a health check that has begun (its request line is in) but not finished when the signal comes
    let probeSocket: import('node:net').Socket | undefined;
    const probe = rawExchange(draining.port, (socket) => {
      probeSocket = socket;
      socket.write(`GET /.well-known/ipstamp/ready HTTP/1.1\r\nHost: 127.0.0.1:${draining.port}\r\n`);
    });
    // the echo round trip runs after the probe's bytes were read by the server
    await fetch(`${draining.url}/.well-known/ipstamp`).then((r) => r.arrayBuffer());

    const heldBefore = held.length;
    const url = `${draining.url}/hold`;
    const inFlight = fetch(url, { headers: { 'client-ip-attestation': await stampFor('GET', url) } }).then(async (response) => {
      const body = await response.text();
      events.push(`response ${response.status}`);
      return { response, body };
    });
    await waitFor('the upstream to hold the request', () => held.length > heldBefore, 10_000);

    draining.signal('SIGTERM');
    await waitFor('the shutdown to begin', () => /SIGTERM/.test(draining.output()), 10_000);
    probeSocket!.write('\r\n');
    const probed = await probe;
    expect(probed.responses[0]?.status).toBe(503);
    expect(JSON.parse(probed.responses[0]!.body)).toMatchObject({ reason: 'shutting-down', status: 503 });
    expect(probed.closed).toBe(true);

    // longer than the old 5 s cut-off: the drain has no deadline of its own
    await new Promise((r) => setTimeout(r, 5500));
    expect(events).toEqual([]);
    held.at(-1)!.end('finished late');
    const { response, body } = await inFlight;
    expect(body).toBe('finished late');
    expect(response.headers.get('connection')).toBe('close');
    await draining.exited;
    expect(events).toEqual(['response 200', 'exit 0']);
  }, 40_000);
});

describe('the gateway command', () => {
  it('has its own --help, about the gateway', async () => {
    const help = await runCli(['gateway', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ipstamp gateway /);
    expect(help.stdout).not.toMatch(/standalone verifier|Without --upstream/i);
    expect(help.stdout).toMatch(/X-Attested-Client-IP-Source/);
    expect(help.stdout).toMatch(/--upstream-timeout/);
  });

  it('prints one start line, saying gateway', () => {
    expect(gateway.startLine).toMatch(/^ipstamp gateway: listening on http:\/\/127\.0\.0\.1:\d+ /);
    expect(gateway.output().match(/listening on/g)).toHaveLength(1);
  });
});
