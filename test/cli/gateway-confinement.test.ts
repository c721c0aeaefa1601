import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.node.js';
import { listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { header, headerLines, rawExchange, type RawResponse } from './raw-http.js';

/**
 * What the gateway refuses to forward whatever the stamp says, before verification: a request
 * target that could leave `--upstream`'s base path, two Host lines, TRACE, and a CORS
 * preflight (the one request it forwards unverified) with a body; and what a preflight it does
 * forward may carry.
 */

interface Seen {
  method: string;
  url: string;
  /** Header lines as the upstream received them: [name, value], names lower-cased, in order. */
  lines: [string, string][];
  body: string;
}

const scratch = scratchDir();
const seen: Seen[] = [];
let upstream: Server;
let gateway: RunningServe;
let key: TestKeyPair;
/** `Host` for the gateway, as a client writes it. */
let host: string;

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  const lines = headerLines(req.rawHeaders);
  const record: Seen = { method: req.method!, url: req.url!, lines, body };
  seen.push(record);
  const json = JSON.stringify(record);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

async function stampFor(method: string, path: string): Promise<string> {
  return createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method, url: `http://${host}${path}` });
}

/** Sends the head as written (no client normalises the target on the way) and returns the one answer. */
async function send(head: string, body = ''): Promise<RawResponse> {
  const exchange = await rawExchange(gateway.port, `${head}\r\nConnection: close\r\n\r\n${body}`);
  expect(exchange.responses).toHaveLength(1);
  return exchange.responses[0]!;
}

function expectProblem(response: RawResponse, status: number, reason: string): void {
  expect(response.status).toBe(status);
  expect(header(response, 'content-type')).toBe('application/problem+json');
  expect(JSON.parse(response.body)).toEqual({ type: `urn:ipstamp:${reason}`, title: expect.any(String), status, reason });
}

function lineValues(record: Seen, name: string): string[] {
  return record.lines.filter(([n]) => n === name).map(([, v]) => v);
}

const PREFLIGHT = 'Origin: https://app.example\r\nAccess-Control-Request-Method: POST';

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString()));
  });
  const upstreamPort = await listenOnFreePort(upstream);
  key = await makeKey('ES256', 'gw-confine');
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  gateway = await startServe(['--port', '0', '--keys', keys, '--upstream', `http://127.0.0.1:${upstreamPort}/api`], 'gateway');
  host = `127.0.0.1:${gateway.port}`;
});
afterAll(async () => {
  await gateway?.stop();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

describe('--upstream base path: a boundary', () => {
  const ESCAPES = [
    '/../admin',
    '/x/../../admin',
    '/%2e%2e/admin',
    '/%2E./admin',
    '/..%2fadmin',
    '/%2F..%2Fadmin',
    '/..%5Cadmin',
    '/..\\admin',
    '/a/..;/admin',
    '/a/./b',
  ];

  it.each(ESCAPES)('%s: 400 bad-request-target before verification (no stamp, a preflight), nothing forwarded', async (target) => {
    const before = seen.length;
    // without a stamp: refused as a target, not as a missing stamp (401)
    expectProblem(await send(`GET ${target} HTTP/1.1\r\nHost: ${host}`), 400, 'bad-request-target');
    // the preflight, forwarded unverified otherwise
    expectProblem(await send(`OPTIONS ${target} HTTP/1.1\r\nHost: ${host}\r\n${PREFLIGHT}`), 400, 'bad-request-target');
    expect(seen.length).toBe(before);
  });

  it("refuses a stamp that verifies: a stock client's /..%2fadmin (WHATWG URL keeps %2f, an upstream that decodes it does not)", async () => {
    const before = seen.length;
    const target = '/..%2fadmin';
    expectProblem(await send(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nClient-IP-Attestation: ${await stampFor('GET', target)}`), 400, 'bad-request-target');
    expect(seen.length).toBe(before);
  });

  it.each([
    ['absolute-form', 'GET http://127.0.0.1:1/secret HTTP/1.1'],
    ['absolute-form preflight', `OPTIONS http://127.0.0.1:1/secret HTTP/1.1\r\n${PREFLIGHT}`],
    ['asterisk-form', `OPTIONS * HTTP/1.1\r\n${PREFLIGHT}`],
  ])('%s: 400 bad-request-target, nothing forwarded', async (_label, head) => {
    const before = seen.length;
    const [requestLine, ...rest] = head.split('\r\n');
    expectProblem(await send([requestLine, `Host: ${host}`, ...rest].join('\r\n')), 400, 'bad-request-target');
    expect(seen.length).toBe(before);
  });

  it('a plain target goes under the base byte for byte, dots inside segments and in the query included', async () => {
    const target = '/a.b/c%20d/...x?next=/../admin&y=%2e%2e';
    const response = await send(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nClient-IP-Attestation: ${await stampFor('GET', target)}`);
    expect(response.status).toBe(200);
    expect((JSON.parse(response.body) as Seen).url).toBe(`/api${target}`);
  });
});

describe('requests no upstream is asked', () => {
  it('two Host lines: 400 bad-request-target (RFC 9112 §3.2), not the first one forwarded', async () => {
    const before = seen.length;
    const response = await send(
      `GET /two-hosts HTTP/1.1\r\nHost: ${host}\r\nHost: evil.example\r\nClient-IP-Attestation: ${await stampFor('GET', '/two-hosts')}`,
    );
    expectProblem(response, 400, 'bad-request-target');
    expect(seen.length).toBe(before);
  });

  it('TRACE: 405 method-not-allowed, stamped or not, never forwarded (it would reflect the cookies)', async () => {
    const before = seen.length;
    expectProblem(
      await send(`TRACE /trace HTTP/1.1\r\nHost: ${host}\r\nCookie: session=secret\r\nClient-IP-Attestation: ${await stampFor('TRACE', '/trace')}`),
      405,
      'method-not-allowed',
    );
    expectProblem(await send(`TRACE /trace HTTP/1.1\r\nHost: ${host}\r\nCookie: session=secret`), 405, 'method-not-allowed');
    expect(seen.length).toBe(before);
  });
});

describe('the CORS preflight the gateway forwards unverified', () => {
  it.each([
    ['Content-Length', 'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 19', 'action=delete&id=42'],
    ['chunked', 'Transfer-Encoding: chunked', '13\r\naction=delete&id=42\r\n0\r\n\r\n'],
    ['chunked, empty', 'Transfer-Encoding: chunked', '0\r\n\r\n'],
  ])('with a body (%s): 400 bad-request-target, nothing forwarded', async (_label, framing, body) => {
    const before = seen.length;
    expectProblem(await send(`OPTIONS /delete HTTP/1.1\r\nHost: ${host}\r\n${PREFLIGHT}\r\n${framing}`, body), 400, 'bad-request-target');
    expect(seen.length).toBe(before);
  });

  it('goes with no body, and without Cookie, Authorization, Proxy-Authorization or Content-* (no Fetch preflight has them)', async () => {
    const response = await send(
      [
        `OPTIONS /orders HTTP/1.1`,
        `Host: ${host}`,
        PREFLIGHT,
        'Access-Control-Request-Headers: client-ip-attestation',
        'Cookie: session=secret',
        'Authorization: Bearer secret',
        'Proxy-Authorization: Basic c2VjcmV0',
        'Content-Type: text/plain',
        'Content_Language: en',
        'Content-Length: 0',
        'X-Custom: kept',
      ].join('\r\n'),
    );
    expect(response.status).toBe(200);
    const got = JSON.parse(response.body) as Seen;
    expect(got).toMatchObject({ method: 'OPTIONS', url: '/api/orders', body: '' });
    const names = got.lines.map(([n]) => n);
    for (const name of ['cookie', 'authorization', 'proxy-authorization', 'transfer-encoding']) expect(names).not.toContain(name);
    for (const name of names) expect(name.replaceAll('_', '-').startsWith('content-')).toBe(false);
    expect(lineValues(got, 'origin')).toEqual(['https://app.example']);
    expect(lineValues(got, 'access-control-request-method')).toEqual(['POST']);
    expect(lineValues(got, 'access-control-request-headers')).toEqual(['client-ip-attestation']);
    expect(lineValues(got, 'x-custom')).toEqual(['kept']);
    // unverified: no attested address, and X-Forwarded-Host is the Host as received
    expect(names.some((n) => n.startsWith('x-attested-client-ip'))).toBe(false);
    expect(lineValues(got, 'x-forwarded-host')).toEqual([host]);
  });
});
