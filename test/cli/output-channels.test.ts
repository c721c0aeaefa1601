import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { problemOf, serviceProblemOf } from '../../shared/problem.js';
import type { Reason } from '../../shared/reasons.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { listenOnFreePort } from '../support/ports.js';
import { signRaw } from '../support/sign-raw.js';
import { rawExchange } from './raw-http.js';

/**
 * What `ipstamp serve` writes out where an attacker can put text in: its log lines and stderr,
 * and the answers. A client's request, and a key service's set, reach an operator's terminal and
 * log pipeline; neither may add a line, act on the terminal (escape sequences, bidi controls),
 * make a line grow without bound, or get a token into them.
 */
const scratch = scratchDir();
let key: TestKeyPair;
let issuerKey: TestKeyPair;

beforeAll(async () => {
  key = await makeKey('HS256', 'client-hs');
  issuerKey = await makeKey('EdDSA', 'edge-1');
});
afterAll(() => scratch.cleanup());

/** A forged log line, an OSC sequence that retitles the terminal, a right-to-left override, and bulk. */
const HOSTILE = `10.0.0.1\n{"level":50,"msg":"forged"}\x1b]0;owned\x07\u202e${'A'.repeat(10_000)}`;
/** Bytes a terminal acts on, or that end a line: none may reach the output raw. */
const UNSAFE = ['\r', '\x07', '\x1b', '\u202e'];

describe('a key set at --keys-url holding hostile text', () => {
  let jwksServer: Server;
  let jwksUrl = '';
  beforeAll(async () => {
    const set = { keys: [{ ...key.publicJwk, allowed_ips: [HOSTILE] }] };
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(set)));
    jwksUrl = `http://127.0.0.1:${await listenOnFreePort(jwksServer)}/keys.json`;
  });
  afterAll(async () => {
    jwksServer.closeAllConnections();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  it('an allowed_ips entry that is not a CIDR is quoted JSON-escaped and cut: one stderr line without the URL query, exit 1', async () => {
    // a token in the query stays out of the line as well
    const { code, stdout, stderr } = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--keys-url', `${jwksUrl}?token=s3cret-keys`]);
    expect([code, stdout]).toEqual([1, '']);
    const quoted = `"10.0.0.1\\n{\\"level\\":50,\\"msg\\":\\"forged\\"}\\u001b]0;owned\\u0007\\u202e${'A'.repeat(17)}"…`;
    expect(stderr).toBe(`ipstamp serve: cannot start: ERR_IPSTAMP_KEYS_INVALID ${jwksUrl}: keys[0].allowed_ips: invalid address in ${quoted}\n`);
  });
});

describe('hostile requests to serve', () => {
  let serve: RunningServe;
  beforeAll(async () => {
    const keys = scratch.file('keys.json', { keys: [key.publicJwk] });
    // loopback trusted: the forwarding header is read, and its entries reach the log's hints
    serve = await startServe(['--port', '0', '--host', '127.0.0.1', '--keys', keys, '--trusted-proxies', 'loopback', '--log-level', 'info']);
  });
  afterAll(async () => {
    await serve?.stop();
  });

  /** One request as raw bytes (latin1: a UTF-8 `\u202e` goes as its three bytes, as a client can send it). */
  const send = async (lines: readonly string[], body = ''): Promise<{ status: number; headers: readonly (readonly [string, string])[]; body: string }> => {
    const exchange = await rawExchange(serve.port, `${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n${body}`);
    const [response] = exchange.responses;
    expect(response, exchange.text).toBeDefined();
    return response!;
  };
  const rlo = Buffer.from('\u202e').toString('latin1');

  it('each refusal is one JSON log line and the fixed problem body; nothing of the request reaches the output or the answer', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ip: '127.0.0.1', iat: now, jti: 'j'.repeat(22), htm: 'GET', htu: `${serve.url}/x` };
    // a made-up kid as long as a kid may be: the log names it (it is all [A-Za-z0-9._:-]), the token never
    const unknown = signRaw(key.privateJwk, { alg: 'HS256', typ: 'ipstamp+jwt', kid: `k${'z'.repeat(127)}` }, claims);
    const signed = signRaw(key.privateJwk, { alg: 'HS256', typ: 'ipstamp+jwt', kid: key.kid }, claims);
    const forged = signed.slice(0, -20) + (signed.at(-20) === 'A' ? 'B' : 'A') + signed.slice(-19);
    const cases: [Reason, string[], string?][] = [
      ['unknown-key', ['GET /x HTTP/1.1', `Host: ${serve.url.slice(7)}`, `client-ip-attestation: ${unknown}`]],
      ['bad-signature', ['GET /x HTTP/1.1', `Host: ${serve.url.slice(7)}`, `client-ip-attestation: ${forged}`]],
      ['malformed', ['GET /x HTTP/1.1', `Host: ${rlo}evil`, `client-ip-attestation: a${rlo}.b.c`, `X-Forwarded-For: ${rlo}1.2.3.4, fe80::1%${rlo}evil`]],
      ['missing', [`GET /%1b]0;owned%07%E2%80%AE?${'q'.repeat(4000)} HTTP/1.1`, 'Host: a', `User-Agent: ${rlo}evil`]],
      ['missing', ['POST /x HTTP/1.1', 'Host: a', `Content-Type: application/${rlo}evil`, 'Content-Length: 2'], '{}'],
    ];
    for (const [reason, lines, body] of cases) {
      const response = await send(lines, body);
      expect([response.status, response.body]).toEqual([problemOf(reason).status, JSON.stringify(problemOf(reason))]);
      expect(response.headers.filter(([, value]) => value.includes('evil') || value.includes(rlo) || value.includes('owned'))).toEqual([]);
    }
    // the log is written as the answer goes out: wait for the last line, bounded
    for (let i = 0; i < 100 && serve.output().split('ipstamp: stamp rejected').length <= cases.length; i++) await new Promise((r) => setTimeout(r, 20));

    const lines = serve
      .output()
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('ipstamp serve: listening on'));
    const records = lines.map((line) => JSON.parse(line) as { msg: string; ipstamp?: { reason: string; kid?: string } });
    const rejections = records.filter((r) => r.msg === 'ipstamp: stamp rejected');
    expect(rejections.map((r) => r.ipstamp!.reason)).toEqual(cases.map(([reason]) => reason));
    expect(rejections.map((r) => r.ipstamp!.kid)).toEqual([`k${'z'.repeat(127)}`, key.kid, undefined, undefined, undefined]);
    expect(records.length - rejections.length).toBe(1); // Fastify's "Server listening at"
    const output = serve.output();
    expect([UNSAFE.some((c) => output.includes(c)), /evil|owned|qqqq/.test(output)]).toEqual([false, false]);
    for (const token of [unknown, forged]) for (const segment of token.split('.')) expect(output).not.toContain(segment);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(1024);
  });

  it('a target the router cannot decode is a problem+json 400 bad-request-target that does not quote it back', async () => {
    for (const target of ['/%zz', '/%zz%E2%80%AEevil', '/a%']) {
      const response = await send([`GET ${target} HTTP/1.1`, 'Host: a']);
      expect([response.status, response.body], target).toEqual([400, JSON.stringify(serviceProblemOf('bad-request-target'))]);
      expect(response.headers.find(([name]) => name === 'content-type')?.[1]).toBe('application/problem+json');
    }
  });

  it('a header Node refuses (a control byte in it) is a 400 that logs nothing', async () => {
    const before = serve.output();
    const response = await send(['GET /x HTTP/1.1', 'Host: a', 'client-ip-attestation: a\x1b[2Jb']);
    expect(response.status).toBe(400);
    expect(response.body).not.toContain('\x1b');
    // a refusal after it, and its line: whatever the 400 wrote would be there before it
    expect((await send(['GET /x HTTP/1.1', 'Host: a'])).status).toBe(401);
    for (let i = 0; i < 100 && !serve.output().slice(before.length).includes('stamp rejected'); i++) await new Promise((r) => setTimeout(r, 20));
    const written = serve
      .output()
      .slice(before.length)
      .split('\n')
      .filter((line) => line !== '');
    expect(written.map((line) => (JSON.parse(line) as { ipstamp: { reason: string } }).ipstamp.reason)).toEqual(['missing']);
  });
});

describe('the ticket route', () => {
  it('an issued ticket and a refused proof are each logged once, with neither the ticket nor the proof', async () => {
    const serve = await startServe([
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--keys',
      scratch.file('ticket-keys.json', { keys: [key.publicJwk] }),
      '--issuer-key',
      scratch.file('issuer.json', issuerKey.privateJwk),
      '--log-level',
      'info',
    ]);
    try {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const publicJwk = (await exportJWK(publicKey)) as Parameters<typeof createTicketRequestProof>[0]['publicJwk'];
      const proof = await createTicketRequestProof({ privateKey, publicJwk, alg: 'ES256' }, `${serve.url}/.well-known/ipstamp/ticket`);
      const ask = () => fetch(`${serve.url}/.well-known/ipstamp/ticket`, { method: 'POST', headers: { 'client-ip-attestation': proof } });
      const issued = await ask();
      expect(issued.status).toBe(200);
      const { ticket } = (await issued.json()) as { ticket: string };
      const replayed = await ask();
      expect([replayed.status, ((await replayed.json()) as { reason: string }).reason]).toEqual([401, 'replay']);
      for (let i = 0; i < 100 && !serve.output().includes('ticket refused'); i++) await new Promise((r) => setTimeout(r, 20));

      const records = serve
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; ipstamp?: Record<string, unknown> });
      expect(records.filter((r) => r.msg.startsWith('ipstamp: ticket')).map((r) => [r.msg, r.ipstamp!.ticket, r.ipstamp!.reason ?? r.ipstamp!.ip])).toEqual([
        ['ipstamp: ticket issued', 'issued', '127.0.0.1'],
        ['ipstamp: ticket refused', 'refused', 'replay'],
      ]);
      for (const token of [ticket, proof]) for (const segment of token.split('.')) expect(serve.output()).not.toContain(segment);
    } finally {
      await serve.stop();
    }
  });
});
