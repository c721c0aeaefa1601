/**
 * What ipstamp/telemetry costs per verification, in the core (no HTTP): the verifier without
 * the telemetry option, with it but no SDK (the api's no-ops), and with the SDK 2.x recording
 * (batched spans to an exporter that discards them, metrics aggregated, an AsyncLocalStorage
 * context manager as NodeSDK registers). Alternating rounds against the uninstrumented
 * verifier, medians; a fresh verifier (and replay store) each round, so no stamp is a replay.
 *   npm run build && node --expose-gc bench/telemetry.js [--quick]
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, metrics, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createVerifier } from '../dist/server/verify/create-verifier.js';
import { openTelemetry } from '../dist/server/telemetry/index.js';
import { stampSigner } from './sign-stamp.js';
import { compareOpsByRound, fmt, median, medianRatio } from './measure.js';

const quick = process.argv.includes('--quick');
const COUNT = quick ? 5_000 : 20_000;
const ROUNDS = quick ? 3 : 7;

const key = { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'bench', alg: 'HS256' };
const sign = stampSigner(key);
const iat = Math.floor(Date.now() / 1000);
const inputs = Array.from({ length: COUNT }, (_, i) => ({
  method: 'GET',
  url: '/orders',
  headers: {
    host: 'api.example.com',
    'client-ip-attestation': Buffer.from(
      sign({ ip: '192.0.2.7', iat, jti: `bench-${i.toString().padStart(18, '0')}`, htm: 'GET', htu: 'http://api.example.com/orders' }),
    ).toString('latin1'),
  },
  hints: { l3: '192.0.2.7' },
}));

const verifierWith = (telemetry) => {
  const verifier = createVerifier({ keys: { keys: [key] }, maxAge: 3600, ...(telemetry && { telemetry }) });
  return (i) => verifier.verify(inputs[i]);
};

async function phase(name, telemetryOf) {
  const rounds = await compareOpsByRound(
    { off: () => verifierWith(undefined), [name]: () => verifierWith(telemetryOf()) },
    { count: COUNT, rounds: ROUNDS, clock: 'cpu' },
  );
  const off = median(rounds.off);
  const on = median(rounds[name]);
  const ratio = medianRatio(rounds[name], rounds.off);
  console.log(
    `${name.padEnd(22)} ${fmt(on).padStart(9)} verify/s vs off ${fmt(off).padStart(9)}  ratio ${ratio.toFixed(2)}  +${fmt(1e6 / on - 1e6 / off, 2)} µs/verify`,
  );
  return { name, on, off, ratio };
}

console.log(`HS256 core verify, ${COUNT} per window, ${ROUNDS} rounds (CPU clock), Node ${process.version}`);
// 1. nothing registered: the api's no-op tracer and meter, its own context API
const noSdk = await phase('telemetry, no SDK', () => openTelemetry());

// 1b. the same after a quiet spell: full collections while no verification is in flight, as an
// idle server gets. An object literal with computed keys on the path would from then on run in
// V8's runtime (server/telemetry/outcome-attributes.ts); this row would show it.
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
for (let i = 0; i < 6; i++) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const noSdkAfterIdle = await phase('no SDK, after idle GC', () => openTelemetry());

// 2. an SDK as an app installs it
const storage = new AsyncLocalStorage();
context.setGlobalContextManager({
  active: () => storage.getStore() ?? ROOT_CONTEXT,
  with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.apply(thisArg, args)),
  bind: (_ctx, target) => target,
  enable() {
    return this;
  },
  disable() {
    return this;
  },
});
const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(discard, { maxQueueSize: 100_000, maxExportBatchSize: 1024, scheduledDelayMillis: 50 })],
});
const reader = new PeriodicExportingMetricReader({
  exporter: { export: (_m, done) => done({ code: 0 }), forceFlush: async () => undefined, shutdown: async () => undefined },
  exportIntervalMillis: 60_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);
const withSdk = await phase('telemetry, SDK 2.x', () => openTelemetry());
await tracerProvider.shutdown();
await meterProvider.shutdown();
console.log(JSON.stringify({ noSdk, noSdkAfterIdle, withSdk }));
