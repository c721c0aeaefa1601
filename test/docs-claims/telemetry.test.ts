import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { createVerifier } from '../../server/index.js';
import { ipstamp as honoIpstamp } from '../../server/hono/index.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { buildApp } from '../plugin/app.js';
import { CLI } from '../support/cli-process.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { inMemorySdk, type InMemorySdk } from '../support/otel.js';

/**
 * What docs/telemetry.md tells an operator about which requests make a span and how the
 * histograms are bucketed: a dashboard that counts `unstamped` or reads latency buckets relies
 * on both.
 */
const { spans: SPAN, attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
const PREFLIGHT = { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'client-ip-attestation' };
let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('HS256', 'docs-telemetry');
});

const telemetryOf = (sdk: InMemorySdk) => openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
const spanOutcomes = (sdk: InMemorySdk) => sdk.spans().map((s) => [s.name, s.attributes[ATTR.outcome]]);

describe('docs/telemetry.md: a CORS preflight makes no span in the adapters; verify() on one records unstamped', () => {
  it('Fastify plugin: a preflight reaching a route makes no span; a stampless request on an optional route makes one unstamped span', async () => {
    const sdk = inMemorySdk();
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const preflight = await app.inject({ method: 'OPTIONS', url: '/orders', headers: PREFLIGHT });
    expect(preflight.statusCode).toBe(200);
    expect(sdk.spans()).toEqual([]);
    expect((await app.inject({ url: '/optional' })).statusCode).toBe(200);
    expect(spanOutcomes(sdk)).toEqual([[SPAN.verify, 'unstamped']]);
    await app.close();
  });

  it('node:http middleware: a preflight is passed to next() with no span', async () => {
    const sdk = inMemorySdk();
    const middleware = nodeIpstamp({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const server: Server = trackPeerAddresses(createServer((req, res) => middleware(req, res, () => res.end('next'))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, { method: 'OPTIONS', headers: PREFLIGHT });
    expect([response.status, await response.text()]).toEqual([200, 'next']);
    expect(sdk.spans()).toEqual([]);
    await new Promise((resolve) => server.close(resolve));
  });

  it('Hono middleware: a preflight reaches the route with no span', async () => {
    const sdk = inMemorySdk();
    const app = new Hono();
    app.use(honoIpstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: '127.0.0.1' }), telemetry: telemetryOf(sdk) }));
    app.options('/orders', (c) => c.text('route'));
    const response = await app.request('http://app.test/orders', { method: 'OPTIONS', headers: PREFLIGHT });
    expect([response.status, await response.text()]).toEqual([200, 'route']);
    expect(sdk.spans()).toEqual([]);
  });

  it('verifier.verify() on a preflight answers unstamped and records one unstamped span', async () => {
    const sdk = inMemorySdk();
    const verifier = createVerifier({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const result = await verifier.verify({ method: 'OPTIONS', url: '/orders', headers: { host: 'app.test', ...PREFLIGHT }, hints: { l3: '127.0.0.1' } });
    expect(result).toMatchObject({ ok: true, verdict: null });
    expect(spanOutcomes(sdk)).toEqual([[SPAN.verify, 'unstamped']]);
  });
});

describe('docs/telemetry.md: both histograms advise buckets from 25 µs to 1 s', () => {
  it('verify time and store latency are bucketed 25 µs … 1 s, in seconds', async () => {
    const sdk = inMemorySdk();
    const verifier = createVerifier({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const url = 'http://app.test/orders';
    const stamp = await createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
    const result = await verifier.verify({
      method: 'GET',
      url: '/orders',
      headers: { host: 'app.test', 'client-ip-attestation': stamp },
      hints: { l3: '127.0.0.1' },
    });
    expect(result.ok).toBe(true);
    const histograms = (await sdk.metrics()).filter((m): m is HistogramMetricData => m.descriptor.name !== METRIC.requests);
    const bucketsOf = (name: string) => {
      const metric = histograms.find((m) => m.descriptor.name === name);
      return { unit: metric?.descriptor.unit, boundaries: metric?.dataPoints[0]?.value.buckets.boundaries };
    };
    const advised = { unit: 's', boundaries: [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] };
    expect(bucketsOf(METRIC.verifyDuration)).toEqual(advised);
    expect(bucketsOf(METRIC.replayStoreDuration)).toEqual(advised);
  });
});

describe('docs/telemetry.md: --telemetry without @opentelemetry/api installed', () => {
  it('serve and gateway stop at start with one line naming the package to install, exit 2', () => {
    const directory = mkdtempSync(join(tmpdir(), 'ipstamp-docs-telemetry-'));
    try {
      const keys = join(directory, 'keys.json');
      writeFileSync(keys, JSON.stringify({ keys: [key.publicJwk] }));
      const withoutApi = resolve(import.meta.dirname, '../support/without-opentelemetry-api.mjs');
      const run = (args: string[]) => {
        const { status, stdout, stderr } = spawnSync(process.execPath, ['--import', withoutApi, CLI, ...args, '--keys', keys, '--port', '0', '--telemetry'], {
          encoding: 'utf8',
          timeout: 20_000,
        });
        return { status, stdout, stderr };
      };
      const needs = '--telemetry needs @opentelemetry/api: npm install @opentelemetry/api (and register an SDK, docs/telemetry.md)\n';
      expect(run(['serve'])).toEqual({ status: 2, stdout: '', stderr: `ipstamp serve: ${needs}` });
      expect(run(['gateway', '--upstream', 'http://127.0.0.1:9'])).toEqual({ status: 2, stdout: '', stderr: `ipstamp gateway: ${needs}` });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
