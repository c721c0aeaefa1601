import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context } from '@opentelemetry/api';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp as honoIpstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as nodeIpstamp, trackPeerAddresses } from '../../server/node/index.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { buildApp } from '../plugin/app.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { AsyncLocalContextManager, inMemorySdk, type InMemorySdk } from '../support/otel.js';

/**
 * The same `telemetry` option in every adapter: Fastify, node:http/connect, Hono. Each passes
 * it to createVerifier, so each request that reaches the verifier is one ipstamp.verify span
 * with the store call under it; routes that skip verification make none.
 */
const { spans: SPAN, attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
let key: TestKeyPair;
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalContextManager());
  key = await makeKey('ES256', 'adapter-es');
});
afterAll(() => {
  context.disable();
});

const telemetryOf = (sdk: InMemorySdk) => openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
const stamp = (url: string) => createStamper({ key: key.privateJwk, ip: '127.0.0.1' }).stamp({ method: 'GET', url });

/** What every adapter must have exported after one accepted stamp and its replay. */
async function expectAcceptedThenReplay(sdk: InMemorySdk): Promise<void> {
  const spans = sdk.spans();
  expect(spans.map((s) => s.name)).toEqual([SPAN.replayStoreInsert, SPAN.verify, SPAN.replayStoreInsert, SPAN.verify]);
  expect(spans[0]!.parentSpanContext?.spanId).toBe(spans[1]!.spanContext().spanId);
  expect(spans[1]!.attributes).toMatchObject({ [ATTR.outcome]: 'accepted', [ATTR.kid]: 'adapter-es', [ATTR.clientAddress]: '127.0.0.1' });
  expect(spans[3]!.attributes).toEqual({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'replay', [ATTR.kid]: 'adapter-es' });
  const requests = await sdk.points(METRIC.requests);
  expect(requests.map((p) => [p.attributes[ATTR.outcome], p.value])).toEqual([
    ['accepted', 1],
    ['rejected', 1],
  ]);
}

describe('the telemetry option in each adapter', () => {
  it('Fastify plugin: stamped route instrumented, a route with ipstamp: false is not', async () => {
    const sdk = inMemorySdk();
    const { app } = await buildApp({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const token = await stamp('http://localhost:80/orders');
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await app.inject({ url: '/orders', headers: { 'client-ip-attestation': token } })).statusCode);
    statuses.push((await app.inject({ url: '/open' })).statusCode);
    expect(statuses).toEqual([200, 401, 200]);
    await expectAcceptedThenReplay(sdk);
    await app.close();
  });

  it('node:http middleware', async () => {
    const sdk = inMemorySdk();
    const middleware = nodeIpstamp({ keys: { keys: [key.publicJwk] }, telemetry: telemetryOf(sdk) });
    const server: Server = createServer((req, res) => middleware(req, res, () => res.end('ok')));
    trackPeerAddresses(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const token = await stamp(`${base}/orders`);
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await fetch(`${base}/orders`, { headers: { 'client-ip-attestation': token } })).status);
    expect(statuses).toEqual([200, 401]);
    await expectAcceptedThenReplay(sdk);
    await new Promise((r) => server.close(r));
  });

  it('Hono middleware', async () => {
    const sdk = inMemorySdk();
    const app = new Hono<{ Variables: IpStampVariables }>();
    app.use(honoIpstamp({ keys: { keys: [key.publicJwk] }, connection: () => ({ l3: '127.0.0.1' }), telemetry: telemetryOf(sdk) }));
    app.get('/orders', (c) => c.text('ok'));
    const token = await stamp('http://app.test/orders');
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await app.request('http://app.test/orders', { headers: { 'client-ip-attestation': token } })).status);
    expect(statuses).toEqual([200, 401]);
    await expectAcceptedThenReplay(sdk);
  });
});
