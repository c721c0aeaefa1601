import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { requireBinary } from '../support/binaries.js';
import { makeKey } from '../support/keys.js';
import { makeTestCertificate } from '../support/tls-certificate.js';

/**
 * The plugin's glue hands the verifier the socket's own TLS state (`hints.tls`), never
 * Fastify's `request.protocol` — which, under `trustProxy: true`, is whatever
 * X-Forwarded-Proto anyone sent. The client plays 127.0.0.5; the apps trust 127.0.0.1 only.
 */
const openssl = requireBinary('openssl');
const CLIENT = '127.0.0.5';

describe.skipIf(!openssl)('the connection itself, as the plugin reads it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipstamp-tls-'));
  let stamper: Stamper;
  let client: Agent;
  let tlsApp: FastifyInstance;
  let trustingApp: FastifyInstance; // Fastify trustProxy: true, plain HTTP
  let tlsPort = 0;
  let plainPort = 0;

  beforeAll(async () => {
    // a self-signed certificate for 127.0.0.1 (openssl)
    const certificate = makeTestCertificate(openssl!, dir);
    client = new Agent({ localAddress: CLIENT, connect: { ca: certificate.certPem } });
    const pair = await makeKey('ES256', 'conn');
    stamper = createStamper({ key: pair.privateJwk, ip: CLIENT });
    const options = { keys: { keys: [pair.publicJwk] }, trustedProxies: ['127.0.0.1'] };

    tlsApp = Fastify({ https: { key: readFileSync(certificate.keyFile), cert: certificate.certPem } });
    await tlsApp.register(ipstamp, options);
    tlsApp.get('/orders', async (request) => request.ipStamp);
    await tlsApp.listen({ host: '127.0.0.1', port: 0 });
    tlsPort = (tlsApp.server.address() as { port: number }).port;

    trustingApp = Fastify({ trustProxy: true });
    await trustingApp.register(ipstamp, options);
    trustingApp.get('/orders', async (request) => request.ipStamp);
    await trustingApp.listen({ host: '127.0.0.1', port: 0 });
    plainPort = (trustingApp.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await tlsApp?.close();
    await trustingApp?.close();
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function send(url: string, signedUrl: string, headers: Record<string, string> = {}) {
    const token = await stamper.stamp({ method: 'GET', url: signedUrl });
    const response = await undiciFetch(url, { dispatcher: client, headers: { ...headers, 'client-ip-attestation': token } });
    const body = (await response.json()) as { agreement?: string; reason?: string };
    return body.agreement ?? body.reason;
  }

  it('a TLS socket: an https stamp matches, an http one is binding-mismatch', async () => {
    const url = `https://127.0.0.1:${tlsPort}/orders`;
    expect(await send(url, url)).toBe('match');
    expect(await send(url, `http://127.0.0.1:${tlsPort}/orders`)).toBe('binding-mismatch');
    // an untrusted client cannot talk it down to http either
    expect(await send(url, `http://127.0.0.1:${tlsPort}/orders`, { 'x-forwarded-proto': 'http' })).toBe('binding-mismatch');
  });

  it('Fastify trustProxy: true does not make a client-sent X-Forwarded-Proto evidence', async () => {
    const url = `http://127.0.0.1:${plainPort}/orders`;
    expect(await send(url, `https://127.0.0.1:${plainPort}/orders`, { 'x-forwarded-proto': 'https' })).toBe('binding-mismatch');
    expect(await send(url, url, { 'x-forwarded-proto': 'https' })).toBe('match');
  });
});
