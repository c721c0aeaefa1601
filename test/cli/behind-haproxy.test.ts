import type { Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { createProxyProtocolServer } from '../../server/hints/proxy-connection.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { requireBinary } from '../support/binaries.js';
import { startHaproxy, type RunningProxy } from '../support/haproxy.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePorts } from '../support/ports.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';

/**
 * client (bound to 127.0.0.5) → HAProxy 2.6, mode tcp, send-proxy-v2 → two verifiers that
 * trust only 127.0.0.1 (where HAProxy connects from): `ipstamp serve --proxy-protocol` and a
 * Fastify app with the plugin behind the PROXY layer through `serverFactory`.
 */
const haproxy = requireBinary('haproxy');
const CLIENT = '127.0.0.5';

describe.skipIf(!haproxy)('end to end behind HAProxy send-proxy-v2', () => {
  const scratch = scratchDir();
  const client = new Agent({ localAddress: CLIENT });
  let key: TestKeyPair;
  let stamper: Stamper;
  let serve: RunningServe;
  let app: FastifyInstance;
  let proxy: RunningProxy;
  let toServe = 0;
  let toApp = 0;

  beforeAll(async () => {
    key = await makeKey('ES256', 'e2e-es');
    stamper = createStamper({ key: key.privateJwk, ip: CLIENT });
    serve = await startServe([
      '--port',
      '0',
      '--keys',
      scratch.file('keys.json', { keys: [key.publicJwk] }),
      '--proxy-protocol',
      '--trusted-proxies',
      '127.0.0.1',
    ]);

    app = Fastify({
      serverFactory: (handler) => createProxyProtocolServer(handler, { trustedProxies: '127.0.0.1' }) as Server,
    });
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'] });
    app.get('/whoami', async (request) => request.ipStamp);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const appPort = (app.server.address() as { port: number }).port;

    [toServe, toApp] = (await freePorts(2)) as [number, number];
    proxy = await startHaproxy(
      haproxy!,
      `
defaults
    mode tcp
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend to_serve
    bind 127.0.0.1:${toServe}
    default_backend serve

backend serve
    server serve 127.0.0.1:${serve.port} send-proxy-v2

frontend to_app
    bind 127.0.0.1:${toApp}
    default_backend app

backend app
    server app 127.0.0.1:${appPort} send-proxy-v2
`,
      [toServe, toApp],
    );
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
    await serve?.stop();
    await app?.close();
    await client.close();
    scratch.cleanup();
  });

  async function send(port: number, path: string, headers: Record<string, string> = {}) {
    const url = `http://127.0.0.1:${port}${path}`;
    const token = await stamper.stamp({ method: 'GET', url });
    const response = await undiciFetch(url, { dispatcher: client, headers: { ...headers, 'client-ip-attestation': token } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const throughHaproxy = { l3: '127.0.0.1', l4: CLIENT, observed: CLIENT, decidedBy: 'l4' };

  it('ipstamp serve --proxy-protocol: accepted, agreement match, observed from the PROXY header', async () => {
    const { status, body } = await send(toServe, '/orders');
    expect(status).toBe(200);
    expect(body).toMatchObject({ ip: CLIENT, agreement: 'match', hints: throughHaproxy });
  });

  it('a forged X-Forwarded-For from the client changes nothing (HAProxy in tcp mode does not vouch for it)', async () => {
    const { body } = await send(toServe, '/orders', { 'x-forwarded-for': '203.0.113.9' });
    expect(body).toMatchObject({ agreement: 'match', hints: { observed: CLIENT } });
  });

  it('the plugin behind the PROXY layer via serverFactory: request.ipStamp says match, observed 127.0.0.5', async () => {
    const { status, body } = await send(toApp, '/whoami');
    expect(status).toBe(200);
    expect(body).toMatchObject({ ip: CLIENT, agreement: 'match', hints: { ...throughHaproxy, proxy: { version: 2, command: 'PROXY', family: 'TCP4' } } });
  });

  it('a stamp for another address is refused through HAProxy with ip-mismatch', async () => {
    const url = `http://127.0.0.1:${toApp}/whoami`;
    const token = await createStamper({ key: key.privateJwk, ip: '198.51.100.7' }).stamp({ method: 'GET', url });
    const response = await undiciFetch(url, { dispatcher: client, headers: { 'client-ip-attestation': token } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { reason: string }).reason).toBe('ip-mismatch');
  });

  it('serve still answers untrusted peers over plain HTTP (the PROXY header is only read from trusted ones)', async () => {
    const { status, body } = await send(serve.port, '/direct');
    expect(status).toBe(200);
    expect(body).toMatchObject({ ip: CLIENT, agreement: 'match', hints: { l3: CLIENT, observed: CLIENT, decidedBy: 'l3' } });
  });
});
