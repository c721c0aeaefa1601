import { execFileSync } from 'node:child_process';
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
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      openssl!,
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    client = new Agent({ localAddress: CLIENT, connect: { ca: readFileSync(cert, 'utf8') } });
    const pair = await makeKey('ES256', 'conn');
    stamper = createStamper({ key: pair.privateJwk, ip: CLIENT });
    const options = { keys: { keys: [pair.publicJwk] }, trustedProxies: ['127.0.0.1'] };

    tlsApp = Fastify({ https: { key: readFileSync(key), cert: readFileSync(cert) } });
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
