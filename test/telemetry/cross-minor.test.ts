import { metrics as ownMetrics, trace as ownTrace } from '@opentelemetry/api';
import * as api14 from 'otel-api-1-4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { createVerifier } from '../../server/verify/create-verifier.js';
import { makeKey } from '../support/keys.js';
import { AsyncLocalContextManager, inMemorySdk } from '../support/otel.js';

/**
 * An application whose SDK registered through @opentelemetry/api 1.4 (`otel-api-1-4`) while
 * ipstamp resolves its own copy, 1.9: two copies of the api in one process, which npm makes
 * whenever the app pins an older api than a library's. The api's getters refuse a global
 * registered by an older minor than their own, so a library that only calls
 * `trace.getTracer()` exports nothing; ipstamp reads the registration itself.
 */
const { spans: SPAN, metrics: METRIC, attributes: ATTR } = TELEMETRY_NAMES;
const sdk = inMemorySdk();

beforeAll(() => {
  expect(api14.trace.setGlobalTracerProvider(sdk.tracerProvider as unknown as api14.TracerProvider)).toBe(true);
  expect(api14.metrics.setGlobalMeterProvider(sdk.meterProvider as unknown as api14.MeterProvider)).toBe(true);
  expect(api14.context.setGlobalContextManager(new AsyncLocalContextManager() as unknown as api14.ContextManager)).toBe(true);
});
afterAll(async () => {
  api14.trace.disable();
  api14.metrics.disable();
  api14.context.disable();
  await sdk.shutdown();
});

describe('an SDK registered through a different api minor', () => {
  it('the finding: through its own api 1.9 a library gets no-op tracers and meters; through 1.4 the same SDK records', () => {
    expect(ownTrace.getTracer('naive-library').startSpan('lost').isRecording()).toBe(false);
    expect(ownMetrics.getMeterProvider()).not.toBe(sdk.meterProvider);
    const seen = api14.trace.getTracer('app').startSpan('kept');
    expect(seen.isRecording()).toBe(true);
    seen.end();
  });

  it('openTelemetry() with no providers finds the SDK: spans parented under the app’s span, metrics counted', async () => {
    const key = await makeKey('ES256', 'minor-es');
    const verifier = createVerifier({ keys: { keys: [key.publicJwk] }, telemetry: openTelemetry() });
    const token = await createStamper({ key: key.privateJwk, ip: '192.0.2.7' }).stamp({ method: 'GET', url: 'http://api.example.com/orders' });
    const request = { method: 'GET', url: '/orders', headers: { host: 'api.example.com', 'client-ip-attestation': token }, hints: { l3: '192.0.2.7' } };
    const appSpan = api14.trace.getTracer('app').startSpan('GET /orders');
    const results = await api14.context.with(api14.trace.setSpan(api14.context.active(), appSpan), async () => [
      await verifier.verify(request),
      await verifier.verify(request),
    ]);
    appSpan.end();
    expect(results.map((r) => (r.ok ? 'accepted' : r.reason))).toEqual(['accepted', 'replay']);

    const spans = sdk.spans().filter((s) => s.name.startsWith('ipstamp.'));
    expect(spans.map((s) => s.name)).toEqual([SPAN.replayStoreInsert, SPAN.verify, SPAN.replayStoreInsert, SPAN.verify]);
    const [store, verify] = spans;
    expect(verify!.parentSpanContext?.spanId).toBe(appSpan.spanContext().spanId);
    expect(store!.parentSpanContext?.spanId).toBe(verify!.spanContext().spanId);
    expect(verify!.instrumentationScope.name).toBe('ipstamp');

    const requests = await sdk.points(METRIC.requests);
    expect(requests.map((p) => [p.attributes[ATTR.outcome], p.value])).toEqual([
      ['accepted', 1],
      ['rejected', 1],
    ]);
  });
});
