import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.node.js';
import { STAMP_HEADER } from '../../shared/constants.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { attestedLines, continueExchange, headerLines, header, rawExchange } from './raw-http.js';

/**
 * `ipstamp gateway --report-only`: the rollout's first step for an app behind the gateway. Every
 * stamp is checked as enforcement would check it; a refused request reaches the upstream too,
 * without an attested address and with the reason, and is counted as refused.
 */

interface Seen {
  url: string;
  body: string;
  /** Header lines as the upstream received them: [name, value], names lower-cased. */
  lines: [string, string][];
}

const scratch = scratchDir();
let upstream: Server;
let upstreamPort: number;
let gateway: RunningServe;
let key: TestKeyPair;
let keysFile: string;

const attested = (seen: Seen): Record<string, string[]> => attestedLines(seen.lines);

async function stamp(method: string, path: string, options: { ip?: string; body?: string } = {}): Promise<string> {
  const stamper = createStamper({ key: key.privateJwk, ip: options.ip ?? '127.0.0.1', bodyDigest: options.body !== undefined });
  return stamper.stamp({ method, url: `${gateway.url}${path}`, body: options.body });
}

async function send(path: string, init: { method?: string; token?: string; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers[STAMP_HEADER] = init.token;
  const response = await fetch(`${gateway.url}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
  const text = await response.text();
  return { status: response.status, seen: response.headers.get('x-upstream') === 'yes' ? (JSON.parse(text) as Seen) : undefined };
}

async function metrics(): Promise<string[]> {
  const text = await (await fetch(`${gateway.url}/ops/metrics`)).text();
  return text.split('\n').filter((line) => /^ipstamp_(accepted|rejected|unstamped)_total\{?.*\}? [1-9]/.test(line));
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const lines = headerLines(req.rawHeaders);
      const json = JSON.stringify({ url: req.url ?? '', body: Buffer.concat(chunks).toString(), lines } satisfies Seen);
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' }).end(json);
    });
  });
  upstreamPort = await listenOnFreePort(upstream);
  key = await makeKey('ES256', 'gw-report-only');
  keysFile = scratch.file('keys.json', { keys: [key.publicJwk] });
  gateway = await startServe(
    ['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--report-only', '--metrics-path', '/ops/metrics'],
    'gateway',
  );
});

afterAll(async () => {
  await gateway?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
  scratch.cleanup();
});

describe('ipstamp gateway --report-only', () => {
  it('says it is loosened: in the start line and in the log', () => {
    expect(gateway.startLine).toMatch(/LOOSENED: reportOnly: true\b/);
    expect(gateway.output()).toMatch(/LOOSENED policies: reportOnly is 'true'/);
  });

  it('a stamp that verifies is forwarded as without the flag: attested, and no refusal', async () => {
    const got = await send('/accepted', { token: await stamp('GET', '/accepted') });
    expect(got.status).toBe(200);
    expect(attested(got.seen!)).toEqual({
      'x-attested-client-ip': ['127.0.0.1'],
      'x-attested-client-ip-agreement': ['match'],
      'x-attested-client-ip-source': ['stamp'],
    });
  });

  it('a refused request reaches the upstream without an attested address, with the reason; each counted as refused', async () => {
    const before = await metrics();
    const missing = await send('/no-stamp');
    const lying = await send('/lying', { token: await stamp('GET', '/lying', { ip: '198.51.100.7' }) });
    const elsewhere = await send('/here', { token: await stamp('GET', '/there') });
    for (const [got, reason] of [
      [missing, 'missing'],
      [lying, 'ip-mismatch'],
      [elsewhere, 'binding-mismatch'],
    ] as const) {
      expect(got.status, reason).toBe(200);
      expect(attested(got.seen!), reason).toEqual({ 'x-attested-client-ip-refusal': [reason] });
      // what the gateway itself saw is there as always, for the app to compare or fall back on
      expect(
        got.seen!.lines.filter(([n]) => n === 'x-forwarded-for'),
        reason,
      ).toEqual([['x-forwarded-for', '127.0.0.1']]);
      expect(
        got.seen!.lines.map(([n]) => n),
        reason,
      ).not.toContain(STAMP_HEADER);
    }
    expect(before.filter((line) => line.startsWith('ipstamp_rejected'))).toEqual([]);
    expect((await metrics()).filter((line) => line.startsWith('ipstamp_rejected')).sort()).toEqual([
      'ipstamp_rejected_total{reason="binding-mismatch"} 1',
      'ipstamp_rejected_total{reason="ip-mismatch"} 1',
      'ipstamp_rejected_total{reason="missing"} 1',
    ]);
  });

  it('a stamp is still good once: its replay goes on as refused, replay', async () => {
    const token = await stamp('POST', '/twice');
    const first = await send('/twice', { method: 'POST', token, body: 'one' });
    const second = await send('/twice', { method: 'POST', token, body: 'two' });
    expect(attested(first.seen!)['x-attested-client-ip']).toEqual(['127.0.0.1']);
    expect(attested(second.seen!)).toEqual({ 'x-attested-client-ip-refusal': ['replay'] });
    expect(second.seen!.body).toBe('two');
  });

  it('a signed body that does not match goes on with its bytes as sent, refused binding-mismatch', async () => {
    const token = await stamp('PUT', '/signed', { body: 'what was signed' });
    const got = await send('/signed', { method: 'PUT', token, body: 'what was sent', headers: { 'content-type': 'text/plain' } });
    expect(attested(got.seen!)).toEqual({ 'x-attested-client-ip-refusal': ['binding-mismatch'] });
    expect(got.seen!.body).toBe('what was sent');
  });

  it('a stampless upload that waits for 100 Continue gets it, and its body reaches the upstream', async () => {
    const body = 'uploaded after the interim answer';
    const exchange = await continueExchange(gateway.port, { path: '/upload', body });
    expect([exchange.continued, exchange.bodySent, exchange.final?.status]).toEqual([true, true, 200]);
    const seen = JSON.parse(exchange.final!.body) as Seen;
    expect([seen.body, attested(seen)]).toEqual([body, { 'x-attested-client-ip-refusal': ['missing'] }]);
  });

  it("a client's own refusal or address header, in any spelling, stops at the gateway", async () => {
    const forged = { 'X-Attested-Client-IP-Refusal': 'none', X_Attested_Client_IP: '203.0.113.9', 'x.attested.client.ip.refusal': 'none' };
    const refused = await send('/forged', { headers: forged });
    expect(attested(refused.seen!)).toEqual({ 'x-attested-client-ip-refusal': ['missing'] });
    const accepted = await send('/forged-ok', { token: await stamp('GET', '/forged-ok'), headers: forged });
    expect(attested(accepted.seen!)).toEqual({
      'x-attested-client-ip': ['127.0.0.1'],
      'x-attested-client-ip-agreement': ['match'],
      'x-attested-client-ip-source': ['stamp'],
    });
  });

  it("a refused request's X-Forwarded-Host is the origin a stamp is bound to, never a Host the client wrote for another", async () => {
    const pinned = await startServe(
      ['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--report-only', '--origin', 'http://api.example.com'],
      'gateway',
    );
    try {
      for (const [through, host, forwardedHost] of [
        [pinned, 'evil.example', 'api.example.com'],
        // no --origin: the one Host names, normalised as for a verified request
        [gateway, 'API.Example.com:80', 'api.example.com'],
        // a host an upstream would read as a list (Express keeps what precedes the comma): none
        [gateway, 'evil.example,api.example', undefined],
      ] as const) {
        const exchange = await rawExchange(through.port, `GET /host HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        const seen = JSON.parse(exchange.responses[0]!.body) as Seen;
        expect(attested(seen)).toEqual({ 'x-attested-client-ip-refusal': ['missing'] });
        expect(seen.lines.filter(([name]) => name === 'host' || name === 'x-forwarded-host')).toEqual([
          ['host', host],
          ...(forwardedHost === undefined ? [] : [['x-forwarded-host', forwardedHost]]),
        ]);
      }
    } finally {
      await pinned.stop();
    }
  });

  it('what the gateway refuses whatever the stamp says is still refused, not forwarded', async () => {
    let forwarded = 0;
    const count = (): void => void forwarded++;
    upstream.on('request', count);
    const host = `Host: 127.0.0.1:${gateway.port}\r\nConnection: close\r\n\r\n`;
    const trace = (await rawExchange(gateway.port, `TRACE /trace HTTP/1.1\r\n${host}`)).responses[0]!;
    const escape = (await rawExchange(gateway.port, `GET /a/%2e%2e/b HTTP/1.1\r\n${host}`)).responses[0]!;
    upstream.off('request', count);
    expect([trace.status, JSON.parse(trace.body).reason]).toEqual([405, 'method-not-allowed']);
    expect([escape.status, JSON.parse(escape.body).reason]).toEqual([400, 'bad-request-target']);
    expect(forwarded).toBe(0);
  });

  it('from there on a refused request is handled as a passed one: an OPTIONS with Max-Forwards: 0 is answered by the gateway, counted', async () => {
    let forwarded = 0;
    const count = (): void => void forwarded++;
    const before = (await metrics()).find((line) => line.startsWith('ipstamp_rejected_total{reason="missing"}'));
    upstream.on('request', count);
    const answer = (
      await rawExchange(gateway.port, `OPTIONS /probe HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n`)
    ).responses[0]!;
    upstream.off('request', count);
    expect([answer.status, header(answer, 'allow'), forwarded]).toEqual([200, 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 0]);
    const after = (await metrics()).find((line) => line.startsWith('ipstamp_rejected_total{reason="missing"}'));
    expect(Number(after?.split(' ')[1])).toBe(Number(before?.split(' ')[1] ?? 0) + 1);
  });
});

describe('--report-only without --upstream', () => {
  it('is a usage error: serve answers each verdict, a refusal included', async () => {
    const result = await runCli(['serve', '--keys', keysFile, '--port', '0', '--report-only']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--report-only goes with --upstream/);
  });
});
