import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, WebSocket, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/interceptor.node.js';
import { STAMP_TYP } from '../../shared/constants.js';
import { problemOf } from '../../shared/problem.js';
import { runCli } from '../support/cli-process.js';
import type { StampAlg } from '../../shared/schema.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';
import { bundleFixture, requireRuntime, type RunningRuntime } from '../support/runtimes.js';
import { writeAndReset } from '../support/reset-client.js';
import { rawWebSocketHandshake } from '../support/raw-websocket-handshake.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * What the edge app (fixtures/edge-app.ts) must do in every runtime, through both doors —
 * the Hono middleware (`/orders`) and `ipstamp/web` called directly (`/web/orders`): accept a
 * stamped request with `match`, refuse a replay, a forged address, a bad signature and an
 * expired stamp with their reasons, serve the echo route, and pass `ipstamp attack`. A
 * WebSocket handshake (`/ws`, `/web/ws`) is such a request: upgraded by the runtime only once
 * verified, refused with the same problem+json otherwise.
 * Clients play hosts by binding 127.0.0.2 (and 127.0.0.4 for the attack run).
 */
const agents = new Map<string, Agent>();
export function from(address: string): Agent {
  let agent = agents.get(address);
  if (!agent) agents.set(address, (agent = new Agent({ localAddress: address, connections: 128 })));
  return agent;
}

export async function call(address: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const response = await undiciFetch(url, { ...init, dispatcher: from(address) });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: response.status, type: response.headers.get('content-type'), body };
}

/** Flips one character in the middle of the signature (never the last: its spare bits may not count). */
export function breakSignature(token: string): string {
  const at = token.lastIndexOf('.') + 5;
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

/**
 * Stamped requests whose client resets the connection as soon as it has written them, against
 * an app with `onUnverifiable: 'accept'` — the policy under which an unknown peer, if it were
 * not refused, would turn a claimed address into an acceptance. None may be accepted.
 */
export function describeResetClients(runtime: string, setup: { origin: () => string; key: () => TestKeyPair }): void {
  it(`${runtime}: a client that resets its connection right after its request is never accepted for the address it claims`, async () => {
    const port = Number(new URL(setup.origin()).port);
    const stamper = createStamper({ key: setup.key().privateJwk, ip: '203.0.113.66' });
    for (let i = 0; i < 24; i++) {
      const token = await stamper.stamp({ method: 'GET', url: `${setup.origin()}/orders` });
      await writeAndReset(port, '/orders', { 'client-ip-attestation': token }, '127.0.0.2');
    }
    // the runtime may still be working through them: read until the counts stop moving
    let counts = (await call('127.0.0.2', `${setup.origin()}/counts`)).body;
    for (let round = 0; round < 50; round++) {
      await new Promise((r) => setTimeout(r, 20));
      const next = (await call('127.0.0.2', `${setup.origin()}/counts`)).body;
      if (JSON.stringify(next) === JSON.stringify(counts)) break;
      counts = next;
    }
    const { accepted, refused } = counts as { accepted: number; refused: number };
    expect(accepted + refused, `no reset request reached the middleware: the test proved nothing (${JSON.stringify(counts)})`).toBeGreaterThan(0);
    expect(accepted, JSON.stringify(counts)).toBe(0);
  });
}

export function describeEdgeBehaviour(runtime: string, setup: { origin: () => string; key: () => TestKeyPair; output: () => string }): void {
  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.close()));
    agents.clear();
  });

  for (const door of ['/orders', '/web/orders']) {
    const label = door === '/orders' ? 'Hono + ipstamp/hono/web' : 'ipstamp/web directly';
    describe(`${runtime}: ${label} (${door})`, () => {
      const url = () => `${setup.origin()}${door}`;
      const stamper = (ip = '127.0.0.2', extra: { bodyDigest?: boolean; now?: () => number } = {}) =>
        createStamper({ key: setup.key().privateJwk, ip, ...extra });
      const stamped = async (token: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
        call('127.0.0.2', url(), { ...init, headers: { ...init.headers, 'client-ip-attestation': token } });

      it('accepts a stamped GET with agreement match, the peer as the runtime reports it', async () => {
        const { status, body } = await stamped(await stamper().stamp({ method: 'GET', url: url() }));
        expect(status, setup.output()).toBe(200);
        expect(body).toMatchObject({ ip: '127.0.0.2', agreement: 'match', kid: setup.key().kid, hints: { l3: '127.0.0.2', decidedBy: 'l3' } });
      });

      it('accepts a POST with a body digest, and the handler still reads the body', async () => {
        const payload = JSON.stringify({ item: 'tea', n: 2 });
        const token = await stamper('127.0.0.2', { bodyDigest: true }).stamp({ method: 'POST', url: url(), body: payload });
        const { status, body } = await stamped(token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
        expect(status, setup.output()).toBe(200);
        expect(body).toMatchObject({ verdict: { agreement: 'match', ip: '127.0.0.2' }, body: { item: 'tea', n: 2 } });
      });

      it('refuses a replay with 401 replay', async () => {
        const token = await stamper().stamp({ method: 'GET', url: url() });
        expect((await stamped(token)).status).toBe(200);
        const second = await stamped(token);
        expect([second.status, second.type, second.body.reason]).toEqual([401, 'application/problem+json', 'replay']);
      });

      it('refuses a forged address with 403 ip-mismatch, whatever forwarding headers the client adds', async () => {
        const token = await stamper('203.0.113.7').stamp({ method: 'GET', url: url() });
        const headers = { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7', 'cf-connecting-ip': '203.0.113.7', forwarded: 'for=203.0.113.7' };
        const { status, body } = await stamped(token, { headers });
        expect([status, body.reason]).toEqual([403, 'ip-mismatch']);
      });

      it('refuses a bad signature with 401 bad-signature', async () => {
        const token = breakSignature(await stamper().stamp({ method: 'GET', url: url() }));
        const { status, body } = await stamped(token);
        expect([status, body.reason]).toEqual([401, 'bad-signature']);
      });

      it('refuses an expired stamp with 401 expired', async () => {
        const token = await stamper('127.0.0.2', { now: () => Date.now() - 15 * 60_000 }).stamp({ method: 'GET', url: url() });
        const { status, body } = await stamped(token);
        expect([status, body.reason]).toEqual([401, 'expired']);
      });

      it('refuses a request without a stamp with 401 missing', async () => {
        const { status, type, body } = await call('127.0.0.2', url());
        expect([status, type, body.reason]).toEqual([401, 'application/problem+json', 'missing']);
      });
    });
  }

  for (const door of ['/ws', '/web/ws']) {
    const label = door === '/ws' ? 'Hono + ipstamp/hono/web' : 'ipstamp/web directly';
    describe(`${runtime}: WebSocket handshakes, ${label} (${door})`, () => {
      const url = () => `${setup.origin()}${door}`;
      const stampFor = (ip: string) => createStamper({ key: setup.key().privateJwk, ip }).stamp({ method: 'GET', url: url() });

      it("opens a WebSocket that undici's client stamped through the interceptor; the handler reads the verdict", async () => {
        const dispatcher = new Agent({ localAddress: '127.0.0.2' }).compose(ipstampInterceptor({ key: setup.key().privateJwk, ip: '127.0.0.2' }));
        const socket = new WebSocket(url().replace(/^http/, 'ws'), { dispatcher });
        const messages: string[] = [];
        socket.onmessage = (event) => messages.push(String(event.data));
        const opened = await new Promise<boolean>((resolve) => {
          socket.onclose = (event) => resolve(event.wasClean);
          socket.onerror = () => resolve(false);
        });
        await dispatcher.close();
        expect([opened, messages], setup.output()).toEqual([true, ['127.0.0.2 match']]);
      });

      it('refuses an unstamped handshake with the status and problem+json a request gets, and upgrades nothing', async () => {
        const request = await call('127.0.0.2', url());
        const answer = await rawWebSocketHandshake(url());
        expect([answer.statusLine.split(' ')[1], answer.headers['content-type'], JSON.parse(answer.body)], setup.output()).toEqual([
          String(request.status),
          'application/problem+json',
          request.body,
        ]);
        expect(request.body).toEqual(problemOf('missing'));
        expect(answer.headers.upgrade).toBeUndefined();
      });

      it('upgrades a stamped handshake once and refuses its replay with 401 replay', async () => {
        const token = await stampFor('127.0.0.2');
        const first = await rawWebSocketHandshake(url(), { 'client-ip-attestation': token }, { until: '127.0.0.2 match' });
        expect([first.statusLine.split(' ')[1], first.body.includes('127.0.0.2 match')], setup.output()).toEqual(['101', true]);
        const again = await rawWebSocketHandshake(url(), { 'client-ip-attestation': token });
        expect([again.statusLine.split(' ')[1], again.headers['content-type'], JSON.parse(again.body)]).toEqual([
          '401',
          'application/problem+json',
          problemOf('replay'),
        ]);
      });

      it('refuses a handshake whose stamp names another address with 403 ip-mismatch', async () => {
        const answer = await rawWebSocketHandshake(url(), { 'client-ip-attestation': await stampFor('203.0.113.7') });
        expect([answer.statusLine.split(' ')[1], answer.headers['content-type'], JSON.parse(answer.body)], setup.output()).toEqual([
          '403',
          'application/problem+json',
          problemOf('ip-mismatch'),
        ]);
      });

      it('refuses a handshake stamped for its ws: URL with 401 bad-claims: htu names the http: form the server sees', async () => {
        // createStamper refuses a ws: URL (a TypeError): a client that signs one anyway, by hand
        const key = setup.key().privateJwk;
        const claims = {
          ip: '127.0.0.2',
          iat: Math.floor(Date.now() / 1000),
          jti: randomBytes(16).toString('base64url'),
          htm: 'GET',
          htu: url().replace(/^http/, 'ws'),
          obs: 'static',
        };
        const token = signRaw(key, { alg: key.alg, typ: STAMP_TYP, kid: key.kid }, claims);
        const answer = await rawWebSocketHandshake(url(), { 'client-ip-attestation': token });
        expect([answer.statusLine.split(' ')[1], JSON.parse(answer.body)], setup.output()).toEqual(['401', problemOf('bad-claims')]);
      });
    });
  }

  describe(`${runtime}: echo route and ipstamp attack`, () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ipstamp-edge-attack-'));
      await writeFile(join(dir, 'client.jwk.json'), JSON.stringify(setup.key().privateJwk));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('the echo route answers the peer, never a header the client wrote', async () => {
      const headers = { 'x-forwarded-for': '203.0.113.7', 'cf-connecting-ip': '203.0.113.7' };
      const { status, body } = await call('127.0.0.2', `${setup.origin()}/.well-known/ipstamp`, { headers });
      expect([status, body]).toEqual([200, { ip: '127.0.0.2', time: expect.any(Number) }]);
    });

    for (const door of ['/orders', '/web/orders']) {
      it(`ipstamp attack against ${door}: SAFE, exit 0`, async () => {
        const run = await runCli(['attack', '--target', `${setup.origin()}${door}`, '--key', join(dir, 'client.jwk.json'), '--local-address', '127.0.0.4'], {
          timeoutMs: 60_000,
        });
        expect(run.code, `${run.stdout}\n${run.stderr}\n${setup.output()}`).toBe(0);
        expect(run.stdout).toMatch(/^\d+ attacks: \d+ passed, .*0 failed/m);
        expect(run.stdout).toMatch(/^SAFE: /m);
      });
    }
  });
}

/**
 * A runtime that serves the edge app on its own socket (Bun, Deno): the fixture bundled from
 * the built package, one server that refuses an unknown peer and one with
 * `onUnverifiable: 'accept'` for the reset clients, then both suites above.
 */
export function describeSocketRuntime(
  title: string,
  runtime: 'bun' | 'deno',
  stamps: { alg: StampAlg; kid: string },
  start: (binary: string, code: string, port: number, env: Readonly<Record<string, string>>) => Promise<RunningRuntime>,
): void {
  const binary = requireRuntime(runtime);
  let served: RunningRuntime | undefined;
  let resetServed: RunningRuntime | undefined;
  let origin = '';
  let resetOrigin = '';
  let key: TestKeyPair;

  beforeAll(async () => {
    if (!binary) return;
    key = await makeKey(stamps.alg, stamps.kid);
    const code = await bundleFixture(resolve(import.meta.dirname, `fixtures/${runtime}-server.ts`), runtime);
    const [port, resetPort] = await freePorts(2);
    origin = `http://127.0.0.1:${port}`;
    resetOrigin = `http://127.0.0.1:${resetPort}`;
    const KEYS = JSON.stringify({ keys: [key.publicJwk] });
    [served, resetServed] = await Promise.all([start(binary, code, port!, { KEYS }), start(binary, code, resetPort!, { KEYS, ON_UNVERIFIABLE: 'accept' })]);
  });
  afterAll(async () => {
    await Promise.all([served?.stop(), resetServed?.stop()]);
  });

  describe.skipIf(!binary)(title, () => {
    describeEdgeBehaviour(title, { origin: () => origin, key: () => key, output: () => served?.output() ?? '' });
    describeResetClients(title, { origin: () => resetOrigin, key: () => key });
  });
}
