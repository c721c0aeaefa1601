import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { requireBinary } from '../support/binaries.js';
import { runCli, scratchDir } from '../support/cli-process.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePort } from '../support/ports.js';
import { writeAndReset } from '../support/reset-client.js';

/**
 * ipstamp/hono as a user runs it: test/hono/app.mjs, a Hono app on @hono/node-server that
 * imports the BUILT package (`npx tsc -p tsconfig.json` first), in its own process. Clients
 * play different hosts by binding 127.0.0.2, 127.0.0.3, 127.0.0.5.
 */
const APP = resolve(import.meta.dirname, 'app.mjs');

interface RunningApp {
  readonly port: number;
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startApp(config: Record<string, unknown>): Promise<RunningApp> {
  const child: ChildProcess = spawn(process.execPath, [APP, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the Hono app did not start in 10 s\n${output}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /\{"port":(\d+)\}/.exec(output);
      if (m) {
        clearTimeout(timer);
        done(Number(m[1]));
      }
    });
    child.once('exit', (code) => fail(new Error(`the Hono app exited (${code})\n${output}`)));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const agents = new Map<string, Agent>();
function from(address: string): Agent {
  let agent = agents.get(address);
  if (!agent) agents.set(address, (agent = new Agent({ localAddress: address })));
  return agent;
}

async function call(address: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const response = await undiciFetch(url, { ...init, dispatcher: from(address) });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('ES256', 'hono-es');
});
afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.close()));
});

describe('ipstamp/hono on @hono/node-server, no proxy trusted', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ keys: { keys: [key.publicJwk] } });
  });
  afterAll(async () => app?.stop());

  it('a stamped GET is accepted with agreement match; c.get("ipStamp") is the verdict', async () => {
    const url = `${app.url}/orders?id=1`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2' }).stamp({ method: 'GET', url });
    const { status, body } = await call('127.0.0.2', url, { headers: { 'client-ip-attestation': token } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ ip: '127.0.0.2', agreement: 'match', kid: 'hono-es', hints: { l3: '127.0.0.2', decidedBy: 'l3' } });
  });

  it('a POST with a body digest is accepted, and the handler still reads the body with c.req.json()', async () => {
    const url = `${app.url}/orders`;
    const payload = JSON.stringify({ item: 'tea', n: 2 });
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2', bodyDigest: true }).stamp({ method: 'POST', url, body: payload });
    const { status, body } = await call('127.0.0.2', url, {
      method: 'POST',
      headers: { 'client-ip-attestation': token, 'content-type': 'application/json' },
      body: payload,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ verdict: { agreement: 'match', ip: '127.0.0.2' }, body: { item: 'tea', n: 2 } });
  });

  it('a body that is not the digested one is refused (the bytes as received are hashed)', async () => {
    const url = `${app.url}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2', bodyDigest: true }).stamp({ method: 'POST', url, body: '{"item":"tea"}' });
    const { status, type, body } = await call('127.0.0.2', url, {
      method: 'POST',
      headers: { 'client-ip-attestation': token, 'content-type': 'application/json' },
      body: '{"item":"gold"}',
    });
    expect(status).toBe(401);
    expect(type).toBe('application/problem+json');
    expect(body.reason).toBeTypeOf('string');
    expect(body.reason).not.toBe('missing');
  });

  it('a replayed stamp is refused with 401 replay', async () => {
    const url = `${app.url}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.2' }).stamp({ method: 'GET', url });
    const first = await call('127.0.0.2', url, { headers: { 'client-ip-attestation': token } });
    const second = await call('127.0.0.2', url, { headers: { 'client-ip-attestation': token } });
    expect(first.status).toBe(200);
    expect([second.status, second.type, second.body.reason]).toEqual([401, 'application/problem+json', 'replay']);
  });

  it('a forged X-Forwarded-For from an untrusted peer is refused: the stamp claims the forged address', async () => {
    const url = `${app.url}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '203.0.113.7' }).stamp({ method: 'GET', url });
    const { status, body } = await call('127.0.0.3', url, { headers: { 'client-ip-attestation': token, 'x-forwarded-for': '203.0.113.7' } });
    expect([status, body.reason]).toEqual([403, 'ip-mismatch']);
  });

  it('the echo route answers the TCP peer, never a forged header', async () => {
    const { status, body } = await call('127.0.0.3', `${app.url}/.well-known/ipstamp`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect([status, body]).toEqual([200, { ip: '127.0.0.3', time: expect.any(Number) }]);
  });

  it('a CORS preflight passes untouched to the app (no problem+json)', async () => {
    const response = await undiciFetch(`${app.url}/orders`, {
      method: 'OPTIONS',
      dispatcher: from('127.0.0.2'),
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    await response.arrayBuffer();
    expect(response.headers.get('content-type')).not.toBe('application/problem+json');
    expect(response.status).toBe(404); // the app has no OPTIONS route: Hono's own answer
  });
});

describe('ipstamp/hono behind a trusted proxy (127.0.0.1 trusted, X-Forwarded-For honoured)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ keys: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'] });
  });
  afterAll(async () => app?.stop());

  it("the trusted proxy's X-Forwarded-For names the client: the stamp for it matches", async () => {
    const url = `${app.url}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '198.51.100.20' }).stamp({ method: 'GET', url });
    const { status, body } = await call('127.0.0.1', url, { headers: { 'client-ip-attestation': token, 'x-forwarded-for': '198.51.100.20' } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ ip: '198.51.100.20', agreement: 'match', hints: { l3: '127.0.0.1', observed: '198.51.100.20', decidedBy: 'l7' } });
  });

  it('the echo route right behind the trusted proxy answers the forwarded client, not the proxy', async () => {
    const { body } = await call('127.0.0.1', `${app.url}/.well-known/ipstamp`, { headers: { 'x-forwarded-for': '198.51.100.20' } });
    expect(body).toEqual({ ip: '198.51.100.20', time: expect.any(Number) });
  });

  it('the same header from an untrusted peer (127.0.0.3) is not believed', async () => {
    const { body } = await call('127.0.0.3', `${app.url}/.well-known/ipstamp`, { headers: { 'x-forwarded-for': '198.51.100.20' } });
    expect(body).toEqual({ ip: '127.0.0.3', time: expect.any(Number) });
  });
});

describe('ipstamp/hono: a connection reset right after its request', () => {
  let app: RunningApp;
  beforeAll(async () => {
    // the policy under which the reset trick turned claimed addresses into acceptances
    app = await startApp({ keys: { keys: [key.publicJwk] }, onUnverifiable: 'accept' });
  });
  afterAll(async () => app?.stop());

  it('never accepts the claimed address: some reset requests reached the middleware, none was accepted', async () => {
    const stamper = createStamper({ key: key.privateJwk, ip: '203.0.113.66' });
    for (let i = 0; i < 24; i++) {
      const token = await stamper.stamp({ method: 'GET', url: `${app.url}/orders` });
      await writeAndReset(app.port, '/orders', { 'client-ip-attestation': token }, '127.0.0.2');
    }
    let counts = (await call('127.0.0.2', `${app.url}/counts`)).body;
    for (let round = 0; round < 50; round++) {
      const next = (await call('127.0.0.2', `${app.url}/counts`)).body;
      if (JSON.stringify(next) === JSON.stringify(counts)) break;
      counts = next;
    }
    const { accepted, refused } = counts as { accepted: number; refused: number };
    expect(accepted + refused, 'no reset request reached the middleware: the test proved nothing').toBeGreaterThan(0);
    expect(accepted).toBe(0);
  });
});

describe('ipstamp attack against the Hono app', () => {
  const scratch = scratchDir();
  let app: RunningApp;
  let keyFile: string;
  beforeAll(async () => {
    keyFile = scratch.file('client.jwk.json', key.privateJwk);
    app = await startApp({ keys: { keys: [key.publicJwk] } });
  });
  afterAll(async () => {
    await app?.stop();
    scratch.cleanup();
  });

  it('SAFE: every attack rejected, every control accepted (GET and POST with digests)', async () => {
    for (const method of ['GET', 'POST']) {
      const run = await runCli(['attack', '--target', app.url, '--method', method, '--path', '/orders', '--key', keyFile], { timeoutMs: 60_000 });
      expect(run.stdout, run.stdout + run.stderr).toMatch(/^SAFE/m);
      expect(run.code).toBe(0);
    }
  }, 130_000);
});

const haproxy = requireBinary('haproxy');
describe.skipIf(!haproxy)('ipstamp/hono behind HAProxy send-proxy-v2 (createProxyProtocolServer as the server factory)', () => {
  let app: RunningApp;
  let proxy: RunningProxy;
  let front = 0;
  beforeAll(async () => {
    app = await startApp({ keys: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'], proxyProtocol: true });
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

  it('a client bound to 127.0.0.5 gets match, observed from the PROXY header', async () => {
    const url = `http://127.0.0.1:${front}/orders`;
    const token = await createStamper({ key: key.privateJwk, ip: '127.0.0.5' }).stamp({ method: 'GET', url });
    const { status, body } = await call('127.0.0.5', url, { headers: { 'client-ip-attestation': token } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ ip: '127.0.0.5', agreement: 'match', hints: { l3: '127.0.0.1', l4: '127.0.0.5', observed: '127.0.0.5', decidedBy: 'l4' } });
  });

  it('the echo route through HAProxy answers the client', async () => {
    const { body } = await call('127.0.0.5', `http://127.0.0.1:${front}/.well-known/ipstamp`);
    expect(body).toEqual({ ip: '127.0.0.5', time: expect.any(Number) });
  });
});
