import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { createStamper } from '../../client/index.js';
import { generateStampKey } from '../../client/browser-key.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

/**
 * `ipstamp serve` and `ipstamp gateway` with a page on another origin (issue 12 item 10):
 * preflights are never stamp-checked; `--cors-origin` makes serve answer them itself.
 * Raw node:http requests, because a browser's Origin is what is under test.
 */
const APP = 'http://app.example';
const OTHER = 'http://evil.example';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(url: string, method: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

function preflight(url: string, origin = APP): Promise<Answer> {
  return send(url, 'OPTIONS', { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'client-ip-attestation,content-type' });
}

function corsHeadersOf(headers: IncomingHttpHeaders): string[] {
  return Object.keys(headers).filter((name) => name.startsWith('access-control-'));
}

const scratch = scratchDir();
let key: TestKeyPair;
let keysFile = '';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}
const seen: Seen[] = [];
let upstream: Server;
let upstreamUrl = '';

beforeAll(async () => {
  key = await makeKey('HS256', 'cors-hs');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
  // an upstream that reports what reached it and speaks CORS of its own (wildcard), as many apps do
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      res.writeHead(req.method === 'OPTIONS' ? 204 : 200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'x-upstream': 'yes' });
      res.end(req.method === 'OPTIONS' ? undefined : JSON.stringify({ method: req.method, attested: req.headers['x-attested-client-ip'] ?? null }));
    });
  });
  upstreamUrl = `http://127.0.0.1:${await listenOnFreePort(upstream)}`;
});
afterAll(async () => {
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

async function stamped(base: string, method: string, path: string, headers: Record<string, string> = {}, ip = '127.0.0.1'): Promise<Answer> {
  const token = await createStamper({ key: key.privateJwk, ip }).stamp({ method, url: `${base}${path}` });
  return send(`${base}${path}`, method, { ...headers, 'client-ip-attestation': token });
}

describe('serve without --cors-origin', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    serve = await startServe(['--port', '0', '--keys', keysFile]);
  });
  afterAll(async () => {
    await serve?.stop();
  });

  it('answers a preflight 204 without CORS headers (not 401): no origin was allowed', async () => {
    const res = await preflight(`${serve.url}/orders`);
    expect(res.status).toBe(204);
    expect(corsHeadersOf(res.headers)).toEqual([]);
  });

  it('any other OPTIONS request is verified: 401 missing without a stamp, the verdict with one', async () => {
    const bare = await send(`${serve.url}/orders`, 'OPTIONS', { origin: APP });
    expect(bare.status).toBe(401);
    expect(JSON.parse(bare.body)).toMatchObject({ reason: 'missing' });
    const ok = await stamped(serve.url, 'OPTIONS', '/orders');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ip: '127.0.0.1', agreement: 'match' });
  });
});

describe('serve --cors-origin', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    serve = await startServe(['--port', '0', '--keys', keysFile, '--cors-origin', APP, '--cors-origin', 'https://second.example']);
  });
  afterAll(async () => {
    await serve?.stop();
  });

  it('answers the preflight of a configured origin: 204, allow origin/methods/headers, max-age, Vary: Origin', async () => {
    for (const path of ['/orders', '/.well-known/ipstamp/ticket']) {
      const res = await preflight(`${serve.url}${path}`);
      expect(res.status, path).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      expect(res.headers['access-control-allow-methods']).toMatch(/\bPOST\b/);
      expect(res.headers['access-control-allow-headers']?.split(/,\s*/)).toEqual(
        expect.arrayContaining(['client-ip-attestation', 'client-ip-ticket', 'content-type']),
      );
      expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
      expect(res.headers.vary).toMatch(/\bOrigin\b/);
    }
    expect((await preflight(`${serve.url}/orders`, 'https://second.example')).headers['access-control-allow-origin']).toBe('https://second.example');
  });

  it('a preflight ends at its 204: nothing behind it runs (no error in the log)', async () => {
    for (let i = 0; i < 3; i++) expect((await preflight(`${serve.url}/orders/${i}`)).status).toBe(204);
    // a round trip after them: their log lines, if any, are out by then
    expect((await send(`${serve.url}/.well-known/ipstamp`, 'GET')).status).toBe(200);
    expect(serve.output()).not.toMatch(/"level":50/);
  });

  it('an unconfigured origin gets no CORS headers, on the preflight and on the request', async () => {
    const pre = await preflight(`${serve.url}/orders`, OTHER);
    expect(pre.status).toBe(204);
    expect(corsHeadersOf(pre.headers)).toEqual([]);
    const res = await stamped(serve.url, 'GET', '/orders', { origin: OTHER });
    expect(res.status).toBe(200);
    expect(corsHeadersOf(res.headers)).toEqual([]);
    expect(res.headers.vary).toMatch(/\bOrigin\b/);
  });

  it('accepted requests, refusals and the echo carry Access-Control-Allow-Origin and the exposed headers', async () => {
    const ok = await stamped(serve.url, 'POST', '/orders', { origin: APP });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    expect(ok.headers['access-control-expose-headers']).toMatch(/\bdate\b/i);

    const refusals = [
      await send(`${serve.url}/orders`, 'GET', { origin: APP }),
      await stamped(serve.url, 'GET', '/orders', { origin: APP }, '203.0.113.9'),
      await stamped(serve.url, 'GET', '/orders', { origin: APP, 'client-ip-ticket': 'e30.e30.AAAA' }),
    ];
    expect(refusals.map((r) => [r.status, JSON.parse(r.body).reason, r.headers['content-type'], r.headers['access-control-allow-origin']])).toEqual([
      [401, 'missing', 'application/problem+json', APP],
      [403, 'ip-mismatch', 'application/problem+json', APP],
      [401, 'bad-ticket', 'application/problem+json', APP],
    ]);

    const echo = await send(`${serve.url}/.well-known/ipstamp`, 'GET', { origin: APP });
    expect(echo.status).toBe(200);
    expect(JSON.parse(echo.body)).toEqual({ ip: '127.0.0.1', time: expect.any(Number) });
    expect(echo.headers['access-control-allow-origin']).toBe(APP);
  });

  it('an OPTIONS request that is not a preflight is still verified', async () => {
    const res = await send(`${serve.url}/orders`, 'OPTIONS', { origin: APP });
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
  });
});

describe('serve --cors-origin --issuer-key: the ticket routes work cross-origin', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = scratch.file('issuer.json', { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'EdDSA' });
    serve = await startServe(['--port', '0', '--keys', keysFile, '--issuer-key', issuerKey, '--ticket-rate-limit', '2', '--cors-origin', APP]);
  });
  afterAll(async () => {
    await serve?.stop();
  });

  it('issued, refused (replayed proof) and rate-limited answers, and the issuer JWK Set, all carry Access-Control-Allow-Origin', async () => {
    const client = await generateStampKey({ alg: 'ES256' });
    const proof = await createTicketRequestProof(client, `${serve.url}/.well-known/ipstamp/ticket`);
    const ask = () => send(`${serve.url}/.well-known/ipstamp/ticket`, 'POST', { origin: APP, 'client-ip-attestation': proof });
    const answers = [await ask(), await ask(), await ask()];
    expect(answers.map((a) => [a.status, a.headers['access-control-allow-origin']])).toEqual([
      [200, APP],
      [401, APP],
      [429, APP],
    ]);
    expect(JSON.parse(answers[1]!.body)).toMatchObject({ reason: 'replay' });
    // the rate limit is a refusal like the others: problem+json with its own reason
    expect([answers[2]!.headers['content-type'], JSON.parse(answers[2]!.body)]).toEqual([
      'application/problem+json',
      { type: 'urn:ipstamp:rate-limited', title: 'Too many requests', status: 429, reason: 'rate-limited' },
    ]);
    const jwks = await send(`${serve.url}/.well-known/ipstamp/issuer-jwks`, 'GET', { origin: APP });
    expect(jwks.status).toBe(200);
    expect(jwks.headers['access-control-allow-origin']).toBe(APP);
  });
});

describe('--cors-origin is checked', () => {
  for (const bad of ['*', 'app.example', 'https://app.example/path']) {
    it(`refuses ${bad} with a usage error naming the flag`, async () => {
      const { code, stderr } = await runCli(['serve', '--keys', keysFile, '--cors-origin', bad]);
      expect(code).toBe(2);
      expect(stderr).toContain('--cors-origin');
    });
  }
});

describe('gateway without --cors-origin: preflights go to the upstream, unverified and sanitised', () => {
  let gateway: RunningServe;
  beforeAll(async () => {
    gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', upstreamUrl], 'gateway');
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it("forwards the preflight with no attested address, even one the client wrote, and returns the upstream's answer", async () => {
    const before = seen.length;
    const res = await send(`${gateway.url}/orders?x=1`, 'OPTIONS', {
      origin: APP,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'client-ip-attestation',
      'x-attested-client-ip': '203.0.113.66',
      'X-Attested-Client-IP-Agreement': 'match',
      'client-ip-attestation': 'not.a.stamp',
    });
    expect(res.status).toBe(204);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(seen.length).toBe(before + 1);
    const got = seen.at(-1)!;
    expect(got).toMatchObject({ method: 'OPTIONS', url: '/orders?x=1' });
    expect(got.headers.origin).toBe(APP);
    expect(got.headers['access-control-request-method']).toBe('POST');
    expect(Object.keys(got.headers).filter((h) => h.startsWith('x-attested-client-ip') || h === 'client-ip-attestation')).toEqual([]);
  });

  it('an OPTIONS request that is not a preflight is verified and never reaches the upstream without a stamp', async () => {
    const before = seen.length;
    const res = await send(`${gateway.url}/orders`, 'OPTIONS', { origin: APP });
    expect(res.status).toBe(401);
    expect(seen.length).toBe(before);
    const ok = await stamped(gateway.url, 'OPTIONS', '/orders');
    expect(ok.status).toBe(204);
    expect(seen.at(-1)!.headers['x-attested-client-ip']).toBe('127.0.0.1');
  });
});

describe('gateway --cors-origin: the gateway answers CORS itself', () => {
  let gateway: RunningServe;
  beforeAll(async () => {
    gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', upstreamUrl, '--cors-origin', APP], 'gateway');
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('answers preflights without the upstream; forwarded answers carry its CORS headers, not the upstream wildcard', async () => {
    const before = seen.length;
    const pre = await preflight(`${gateway.url}/orders`);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(APP);
    expect(pre.headers['x-upstream']).toBeUndefined();
    expect((await preflight(`${gateway.url}/orders`, OTHER)).headers['access-control-allow-origin']).toBeUndefined();
    expect(seen.length).toBe(before);

    const ok = await stamped(gateway.url, 'POST', '/orders', { origin: APP });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-upstream']).toBe('yes');
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    const other = await stamped(gateway.url, 'POST', '/orders', { origin: OTHER });
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();

    const refused = await send(`${gateway.url}/orders`, 'POST', { origin: APP });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(APP);
  });
});
