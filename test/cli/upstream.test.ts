import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { freePort, listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyLength: number;
  body: string;
  sha256: string;
}

const scratch = scratchDir();
const seen: Seen[] = [];
let upstream: Server;
let serve: RunningServe;
let key: TestKeyPair;

beforeAll(async () => {
  // a plain upstream that reports what reached it
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        bodyLength: body.length,
        body: body.length < 10_000 ? body.toString() : '',
        sha256: createHash('sha256').update(body).digest('hex'),
      };
      seen.push(record);
      res.writeHead(req.url === '/teapot' ? 418 : 200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(JSON.stringify(record));
    });
  });
  const port = await listenOnFreePort(upstream);
  key = await makeKey('HS256', 'proxy-hs');
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  serve = await startServe(['--port', '0', '--keys', keys, '--upstream', `http://127.0.0.1:${port}`, '--body-limit', '65536']);
});
afterAll(async () => {
  await serve?.stop();
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

async function send(path: string, init: { method?: string; body?: string | Buffer; digest?: boolean; headers?: Record<string, string> } = {}) {
  const method = init.method ?? 'GET';
  const url = `${serve.url}${path}`;
  const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: init.digest ?? false });
  const body = typeof init.body === 'string' ? init.body : init.body && new Uint8Array(init.body);
  const token = await stamper.stamp({ method, url, body });
  return fetch(url, { method, body, headers: { ...init.headers, 'client-ip-attestation': token } });
}

describe('ipstamp serve --upstream (verifying reverse proxy)', () => {
  it('forwards method, path and query with the attested address; the stamp and forged attestations never arrive', async () => {
    const response = await send('/orders/7?page=2&x=%20y', {
      headers: { 'X-Attested-Client-IP': '6.6.6.6', 'x-attested-client-ip-agreement': 'match', 'X-Attested-Client-IP-Extra': 'z', accept: 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-upstream')).toBe('yes');
    const got = (await response.json()) as Seen;
    expect(got.method).toBe('GET');
    expect(got.url).toBe('/orders/7?page=2&x=%20y');
    expect(got.headers['x-attested-client-ip']).toBe('127.0.0.1');
    expect(got.headers['x-attested-client-ip-agreement']).toBe('match');
    expect(got.headers['x-attested-client-ip-extra']).toBeUndefined();
    expect(got.headers['client-ip-attestation']).toBeUndefined();
    expect(got.headers.accept).toBe('application/json');
  });

  it('a body signed with cdg arrives as the exact bytes, with its content type', async () => {
    const body = '{"b": 2,   "a": [1, 2]}';
    const response = await send('/orders', { method: 'POST', body, digest: true, headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(response.status).toBe(200);
    const got = (await response.json()) as Seen;
    expect(got.body).toBe(body);
    expect(got.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(got.headers['x-attested-client-ip']).toBe('127.0.0.1');
  });

  it('a body without cdg is streamed through, not held: 3 MB passes a 64 KiB --body-limit', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const response = await send('/upload', { method: 'PUT', body: big, headers: { 'content-type': 'application/octet-stream' } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Seen).bodyLength).toBe(big.length);
  });

  it('a cdg body of exactly --body-limit bytes, every byte value (not UTF-8), arrives byte for byte', async () => {
    const body = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7) % 256));
    const response = await send('/at-limit', { method: 'PUT', body, digest: true, headers: { 'content-type': 'application/octet-stream' } });
    expect(response.status).toBe(200);
    const got = (await response.json()) as Seen;
    expect([got.bodyLength, got.sha256]).toEqual([body.length, createHash('sha256').update(body).digest('hex')]);
  });

  it('a cdg body over --body-limit is refused with 413 before the upstream sees anything', async () => {
    const before = seen.length;
    const response = await send('/upload', {
      method: 'PUT',
      body: Buffer.alloc(100_000, 0x62),
      digest: true,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(response.status).toBe(413);
    expect(seen.length).toBe(before);
  });

  it('a stamp over 4096 characters is not read for cdg: 401 malformed, its body never buffered (no 413), nothing forwarded', async () => {
    const before = seen.length;
    const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = { ip: '127.0.0.1', iat: Math.floor(Date.now() / 1000), htm: 'PUT', htu: `${serve.url}/upload`, cdg: 'x'.repeat(43), pad: 'p'.repeat(3100) };
    const token = `${segment({ alg: 'HS256', typ: 'ipstamp+jwt', kid: 'proxy-hs' })}.${segment(claims)}.${'A'.repeat(43)}`;
    expect(token.length).toBeGreaterThan(4096);
    const response = await fetch(`${serve.url}/upload`, {
      method: 'PUT',
      body: new Uint8Array(100_000),
      headers: { 'client-ip-attestation': token, 'content-type': 'application/octet-stream' },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { reason: string }).reason).toBe('malformed');
    expect(seen.length).toBe(before);
  });

  it('a tampered cdg body is rejected by ipstamp and never forwarded', async () => {
    const before = seen.length;
    const url = `${serve.url}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true }).stamp({ method: 'POST', url, body: 'amount=1' });
    const response = await fetch(url, { method: 'POST', body: 'amount=1000', headers: { 'client-ip-attestation': token, 'content-type': 'text/plain' } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { reason: string }).reason).toBe('binding-mismatch');
    expect(seen.length).toBe(before);
  });

  it('rejections are answered by ipstamp itself: missing, replay', async () => {
    const before = seen.length;
    const missing = await fetch(`${serve.url}/orders`, { headers: { 'x-attested-client-ip': '6.6.6.6' } });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    const url = `${serve.url}/once`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
    expect((await fetch(url, { headers: { 'client-ip-attestation': token } })).status).toBe(200);
    const replay = await fetch(url, { headers: { 'client-ip-attestation': token } });
    expect(((await replay.json()) as { reason: string }).reason).toBe('replay');
    expect(seen.length).toBe(before + 1);
  });

  it("passes the upstream's status through and serves the echo route itself", async () => {
    expect((await send('/teapot')).status).toBe(418);
    const echo = await fetch(`${serve.url}/.well-known/ipstamp`);
    expect(await echo.json()).toEqual({ ip: '127.0.0.1', time: expect.any(Number) });
    expect(seen.some((s) => s.url.startsWith('/.well-known'))).toBe(false);
  });

  it('says where it forwards in the start line', () => {
    expect(serve.startLine).toMatch(/upstream: http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('an upstream that is down is a 502 that does not say where the upstream lives', async () => {
    const closed = await freePort();
    const down = await startServe(['--port', '0', '--keys', scratch.file('keys.json', { keys: [key.publicJwk] }), '--upstream', `http://127.0.0.1:${closed}`]);
    try {
      const url = `${down.url}/x`;
      const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
      const response = await fetch(url, { headers: { 'client-ip-attestation': token } });
      expect(response.status).toBe(502);
      const text = await response.text();
      expect(text).not.toContain(String(closed));
      expect(text).not.toMatch(/ECONNREFUSED/);
    } finally {
      await down.stop();
    }
  });
});
