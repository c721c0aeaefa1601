import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { listenOnFreePort } from '../support/ports.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { continueExchange, finalOnKeptConnection, header, rawExchange, type ContinueExchange } from './raw-http.js';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1) on serve and gateway: a client asks so that it can
 * be refused before it uploads. The `100` comes only when the body is about to be read — for a
 * gateway, once the stamp has passed (or, for a body the stamp signs, before it is checked) —
 * and a refusal comes without one, the body never sent.
 */

const scratch = scratchDir();
let key: TestKeyPair;
let serve: RunningServe;
let gateway: RunningServe;
let upstream: Server;
const upstreamBodies: string[] = [];

beforeAll(async () => {
  key = await makeKey('ES256', 'continue-es');
  const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      upstreamBodies.push(Buffer.concat(chunks).toString());
      res.end(`upstream got ${Buffer.concat(chunks).length} bytes`);
    });
  });
  const upstreamPort = await listenOnFreePort(upstream);
  [serve, gateway] = await Promise.all([
    startServe(['--port', '0', '--keys', keys]),
    startServe(['--port', '0', '--keys', keys, '--upstream', `http://127.0.0.1:${upstreamPort}`], 'gateway'),
  ]);
});
afterAll(async () => {
  await Promise.all([serve?.stop(), gateway?.stop()]);
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  scratch.cleanup();
});

function expectContinue(port: number, path: string, body: string, token?: string, close = true): Promise<ContinueExchange> {
  return continueExchange(port, { path, body, headers: token === undefined ? [] : [`Client-IP-Attestation: ${token}`], close });
}

async function stampFor(base: string, path: string, options: { ip?: string; body?: string } = {}): Promise<string> {
  const stamper = createStamper({ key: key.privateJwk, ip: options.ip ?? '127.0.0.1', bodyDigest: options.body !== undefined });
  return stamper.stamp({ method: 'PUT', url: `${base}${path}`, body: options.body });
}

describe.each([
  ['serve', () => serve],
  ['gateway', () => gateway],
])('%s', (_name, running) => {
  it('a stampless request is refused 401 with no 100: the body is never sent, and the connection closes', async () => {
    const got = await expectContinue(running().port, '/upload', 'x'.repeat(512), undefined, false);
    expect(got.final?.status).toBe(401);
    expect([got.continued, got.bodySent]).toEqual([false, false]);
    expect(header(got.final!, 'connection')).toBe('close');
    expect(got.closed).toBe(true);
  });

  it('a stamp that signs its body (cdg) gets its 100, and the bytes are checked', async () => {
    const { url, port } = running();
    const body = 'signed bytes';
    const got = await expectContinue(port, '/signed', body, await stampFor(url, '/signed', { body }));
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 200]);
  });
});

describe('serve', () => {
  it('a stamped request gets its 100, sends its body and gets the verdict', async () => {
    const got = await expectContinue(serve.port, '/plain', 'hello', await stampFor(serve.url, '/plain'));
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 200]);
    expect(JSON.parse(got.final!.body)).toMatchObject({ ip: '127.0.0.1', agreement: 'match' });
  });
});

describe('gateway', () => {
  it('a stamp that does not verify (another address, a replay) is refused with no 100, before any byte of the body', async () => {
    const before = upstreamBodies.length;
    const mismatch = await expectContinue(gateway.port, '/forged', 'x'.repeat(512), await stampFor(gateway.url, '/forged', { ip: '203.0.113.7' }), false);
    expect([mismatch.final?.status, mismatch.continued, mismatch.bodySent, mismatch.closed]).toEqual([403, false, false, true]);

    const token = await stampFor(gateway.url, '/once');
    const first = await expectContinue(gateway.port, '/once', 'first', token);
    expect([first.final?.status, first.continued]).toEqual([200, true]);
    const replay = await expectContinue(gateway.port, '/once', 'again', token, false);
    expect([replay.final?.status, replay.continued, replay.bodySent, replay.closed]).toEqual([401, false, false, true]);
    expect(JSON.parse(replay.final!.body)).toMatchObject({ reason: 'replay' });
    expect(upstreamBodies.slice(before)).toEqual(['first']);
  });

  it('a stamp that passes gets its 100 and the body streams to the upstream', async () => {
    const body = 'y'.repeat(4096);
    const got = await expectContinue(gateway.port, '/stream', body, await stampFor(gateway.url, '/stream'));
    expect([got.continued, got.bodySent, got.final?.status]).toEqual([true, true, 200]);
    expect(got.final?.body).toBe('upstream got 4096 bytes');
  });

  it('Content-Length: 0 needs no waiting: answered as a plain request, the connection kept', async () => {
    const token = await stampFor(gateway.url, '/empty');
    const exchange = await rawExchange(
      gateway.port,
      `PUT /empty HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nExpect: 100-continue\r\nContent-Length: 0\r\nClient-IP-Attestation: ${token}\r\n\r\n`,
      { giveUpMs: 1000 },
    );
    const final = finalOnKeptConnection(exchange);
    expect(final.status).toBe(200);
  });
});
