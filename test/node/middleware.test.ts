import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import type { Verdict } from '../../server/index.js';
import { requireBinary } from '../support/binaries.js';
import { runCli, scratchDir } from '../support/cli-process.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePort } from '../support/ports.js';
import { writeAndReset } from '../support/reset-client.js';
import { startApp, type Framework, type RunningApp } from './app-process.js';

/**
 * ipstamp/node as users run it: test/node/app.mjs (Express 5, Express 4 or plain node:http on
 * the built package) in its own process. 127.0.0.2 plays a trusted proxy, 127.0.0.3 an
 * untrusted client; 127.0.0.1 is the direct client.
 */
const PROXY = '127.0.0.2';
const STRANGER = '127.0.0.3';
const haproxy = requireBinary('haproxy');

/** What the test app and the middleware answer: a verdict echo, an echo-route address or a problem. */
interface AnswerJson {
  ipStamp?: Verdict | null;
  body?: unknown;
  length?: number;
  ip?: string;
  reason?: string;
  refused?: number;
  accepted?: number;
}

interface Answer {
  status: number;
  type: string | undefined;
  json: AnswerJson;
}

async function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; from?: string } = {}): Promise<Answer> {
  const dispatcher = new Agent({ localAddress: options.from ?? '127.0.0.1' });
  try {
    const res = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body, dispatcher });
    const text = await res.body.text();
    return { status: res.statusCode, type: res.headers['content-type'] as string | undefined, json: text ? (JSON.parse(text) as AnswerJson) : {} };
  } finally {
    await dispatcher.close();
  }
}

describe.each<Framework>(['express5', 'express4', 'http'])('ipstamp/node on %s (own process)', (framework) => {
  const scratch = scratchDir();
  let key: TestKeyPair;
  let app: RunningApp;

  beforeAll(async () => {
    key = await makeKey('ES256', `node-${framework}`);
    app = await startApp({ framework, keys: { keys: [key.publicJwk] }, trustedProxies: [PROXY] });
  });
  afterAll(async () => {
    await app?.stop();
    scratch.cleanup();
  });

  const stamper = (ip: string, bodyDigest = false) => createStamper({ key: key.privateJwk, ip, bodyDigest });

  it('a stamped GET is accepted with match; req.ipStamp is the verdict', async () => {
    const token = await stamper('127.0.0.1').stamp({ method: 'GET', url: `${app.url}/whoami` });
    const res = await send(`${app.url}/whoami?x=1`, { headers: { 'client-ip-attestation': token } });
    expect(res.status).toBe(200);
    expect(res.json.ipStamp).toMatchObject({ ip: '127.0.0.1', agreement: 'match', source: 'stamp' });
  });

  it('a POST with a body digest is accepted with match, and the handler still sees the parsed body', async () => {
    const body = '{"item":42}';
    const token = await stamper('127.0.0.1', true).stamp({ method: 'POST', url: `${app.url}/whoami`, body });
    const res = await send(`${app.url}/whoami`, { method: 'POST', body, headers: { 'client-ip-attestation': token, 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.json.ipStamp?.agreement).toBe('match');
    expect(res.json.body).toEqual({ item: 42 });
  });

  it('a raw body (express.raw) with a digest is accepted; one changed byte is binding-mismatch', async () => {
    const body = Buffer.from([0, 1, 2, 3, 250]);
    const token = await stamper('127.0.0.1', true).stamp({ method: 'POST', url: `${app.url}/raw`, body });
    const headers = { 'client-ip-attestation': token, 'content-type': 'application/octet-stream' };
    const ok = await send(`${app.url}/raw`, { method: 'POST', body, headers });
    expect([ok.status, ok.json.ipStamp?.agreement, ok.json.length]).toEqual([200, 'match', 5]);
    const token2 = await stamper('127.0.0.1', true).stamp({ method: 'POST', url: `${app.url}/raw`, body });
    const bad = await send(`${app.url}/raw`, {
      method: 'POST',
      body: Buffer.from([0, 1, 2, 3, 251]),
      headers: { ...headers, 'client-ip-attestation': token2 },
    });
    expect([bad.status, bad.json.reason]).toEqual([401, 'binding-mismatch']);
  });

  it('a gzip-encoded body: a digest over the encoded bytes is refused (the parser saw decoded bytes); without cdg it passes', async () => {
    const encoded = gzipSync('{"item":42}');
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const digest = await stamper('127.0.0.1', true).stamp({ method: 'POST', url: `${app.url}/whoami`, body: encoded });
    const refused = await send(`${app.url}/whoami`, { method: 'POST', body: encoded, headers: { ...headers, 'client-ip-attestation': digest } });
    expect([refused.status, refused.json.reason]).toEqual([401, 'binding-mismatch']);
    expect(refused.type).toBe('application/problem+json');
    const decodedDigest = await stamper('127.0.0.1', true).stamp({ method: 'POST', url: `${app.url}/whoami`, body: '{"item":42}' });
    const alsoRefused = await send(`${app.url}/whoami`, { method: 'POST', body: encoded, headers: { ...headers, 'client-ip-attestation': decodedDigest } });
    expect([alsoRefused.status, alsoRefused.json.reason]).toEqual([401, 'binding-mismatch']);
    if (framework !== 'http') {
      const plain = await stamper('127.0.0.1').stamp({ method: 'POST', url: `${app.url}/whoami` });
      const accepted = await send(`${app.url}/whoami`, { method: 'POST', body: encoded, headers: { ...headers, 'client-ip-attestation': plain } });
      expect([accepted.status, accepted.json.ipStamp?.agreement, accepted.json.body]).toEqual([200, 'match', { item: 42 }]);
    }
  });

  it.skipIf(framework === 'http')('a cdg over a body no parser recorded (text/plain here) is refused, even the digest of nothing', async () => {
    for (const signed of ['hello', '']) {
      const token = await stamper('127.0.0.1', true).stamp({ method: 'POST', url: `${app.url}/whoami`, body: signed });
      const res = await send(`${app.url}/whoami`, { method: 'POST', body: 'hello', headers: { 'client-ip-attestation': token, 'content-type': 'text/plain' } });
      expect([res.status, res.json.reason]).toEqual([401, 'binding-mismatch']);
    }
  });

  it('a replayed stamp is refused; a missing one is 401 missing on a required route, null on an optional one', async () => {
    const token = await stamper('127.0.0.1').stamp({ method: 'GET', url: `${app.url}/whoami` });
    expect((await send(`${app.url}/whoami`, { headers: { 'client-ip-attestation': token } })).status).toBe(200);
    const replay = await send(`${app.url}/whoami`, { headers: { 'client-ip-attestation': token } });
    expect([replay.status, replay.json.reason, replay.type]).toEqual([401, 'replay', 'application/problem+json']);
    const missing = await send(`${app.url}/whoami`);
    expect([missing.status, missing.json.reason]).toEqual([401, 'missing']);
    const optional = await send(`${app.url}/optional`);
    expect([optional.status, optional.json.ipStamp]).toEqual([200, null]);
  });

  it("a forged X-Forwarded-For from an untrusted peer is ip-mismatch; a trusted proxy's is honoured", async () => {
    const forged = await stamper('203.0.113.7').stamp({ method: 'GET', url: `${app.url}/whoami` });
    const refused = await send(`${app.url}/whoami`, { from: STRANGER, headers: { 'client-ip-attestation': forged, 'x-forwarded-for': '203.0.113.7' } });
    expect([refused.status, refused.json.reason]).toEqual([403, 'ip-mismatch']);
    const honest = await stamper('203.0.113.7').stamp({ method: 'GET', url: `${app.url}/whoami` });
    const accepted = await send(`${app.url}/whoami`, { from: PROXY, headers: { 'client-ip-attestation': honest, 'x-forwarded-for': '203.0.113.7' } });
    expect([accepted.status, accepted.json.ipStamp?.agreement, accepted.json.ipStamp?.hints.decidedBy]).toEqual([200, 'match', 'l7']);
  });

  it('the echo route answers the walk: the client behind a trusted proxy, the peer itself otherwise', async () => {
    const behind = await send(`${app.url}/.well-known/ipstamp`, { from: PROXY, headers: { 'x-forwarded-for': '198.51.100.9' } });
    expect([behind.status, behind.json]).toEqual([200, { ip: '198.51.100.9', time: expect.any(Number) }]);
    const direct = await send(`${app.url}/.well-known/ipstamp`, { from: STRANGER, headers: { 'x-forwarded-for': '198.51.100.9' } });
    expect(direct.json).toEqual({ ip: STRANGER, time: expect.any(Number) });
  });

  it('ipstamp attack (the CLI) finds it SAFE', async () => {
    const keyFile = scratch.file('client.jwk.json', key.privateJwk);
    const run = await runCli(['attack', '--target', `${app.url}/whoami`, '--key', keyFile]);
    expect(run.stdout).toMatch(/^SAFE/m);
    expect(run.code).toBe(0);
  }, 60_000);
});

describe.each<Framework>(['express5', 'express4', 'http'])('ipstamp/node on %s: a connection reset right after its request', (framework) => {
  let app: RunningApp;
  let key: TestKeyPair;
  beforeAll(async () => {
    key = await makeKey('ES256', `reset-${framework}`);
    // the policy the reset trick turned into acceptances of any claimed address
    app = await startApp({ framework, keys: { keys: [key.publicJwk] }, options: { onUnverifiable: 'accept' } });
  });
  afterAll(() => app?.stop());

  it('never accepts a claimed address: verified N > 0, none accepted', async () => {
    const stamper = createStamper({ key: key.privateJwk, ip: '203.0.113.66' });
    for (let i = 0; i < 16; i++) {
      const token = await stamper.stamp({ method: 'GET', url: `${app.url}/whoami` });
      await writeAndReset(app.port, '/whoami', { 'client-ip-attestation': token });
    }
    // settle: the counts are read until two reads agree (bounded)
    let counts = (await send(`${app.url}/counts`)).json;
    for (let round = 0; round < 50; round++) {
      const next = (await send(`${app.url}/counts`)).json;
      if (JSON.stringify(next) === JSON.stringify(counts)) break;
      counts = next;
    }
    expect(counts.refused, 'no reset request reached the middleware: the test proved nothing').toBeGreaterThan(0);
    expect(counts.accepted).toBe(0);
  });
});

describe.skipIf(!haproxy).each<Framework>(['express5', 'express4', 'http'])('ipstamp/node on %s behind HAProxy send-proxy-v2', (framework) => {
  const CLIENT = '127.0.0.5';
  let app: RunningApp;
  let proxy: RunningProxy;
  let key: TestKeyPair;
  let front = 0;
  beforeAll(async () => {
    key = await makeKey('ES256', `haproxy-${framework}`);
    app = await startApp({ framework, keys: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'], proxyProtocol: true });
    front = await freePort();
    proxy = await startHaproxy(
      haproxy!,
      `
defaults
    mode tcp
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend front
    bind 127.0.0.1:${front}
    default_backend app

backend app
    server app 127.0.0.1:${app.port} send-proxy-v2
`,
      [front],
    );
  }, 30_000);
  afterAll(async () => {
    await proxy?.stop();
    await app?.stop();
  });

  it('a client bound to 127.0.0.5 gets match (l4 from the PROXY header)', async () => {
    const origin = `http://127.0.0.1:${front}`;
    const echo = await send(`${origin}/.well-known/ipstamp`, { from: CLIENT });
    expect(echo.json).toEqual({ ip: CLIENT, time: expect.any(Number) });
    const token = await createStamper({ key: key.privateJwk, ip: CLIENT }).stamp({ method: 'GET', url: `${origin}/whoami` });
    const res = await send(`${origin}/whoami`, { from: CLIENT, headers: { 'client-ip-attestation': token } });
    expect([res.status, res.json.ipStamp?.agreement, res.json.ipStamp?.hints.decidedBy, res.json.ipStamp?.hints.l4]).toEqual([200, 'match', 'l4', CLIENT]);
  });
});
