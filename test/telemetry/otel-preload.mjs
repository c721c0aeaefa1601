// What an operator preloads before `ipstamp serve --telemetry` (node --import ./otel.mjs):
// an SDK registered globally. Here it writes finished spans, and every 100 ms the metrics, as
// JSON lines to the file IPSTAMP_OTEL_FILE names, for test/telemetry/serve-telemetry.test.ts.
import { appendFileSync } from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, metrics, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

const file = process.env.IPSTAMP_OTEL_FILE;
const write = (record) => appendFileSync(file, `${JSON.stringify(record)}\n`);

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

const spanExporter = {
  export(spans, done) {
    for (const s of spans) {
      write({ span: s.name, id: s.spanContext().spanId, parent: s.parentSpanContext?.spanId, attributes: s.attributes });
    }
    done({ code: 0 });
  },
  shutdown: async () => undefined,
};
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] }));

const metricExporter = {
  export(resourceMetrics, done) {
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const m of scope.metrics) {
        write({ metric: m.descriptor.name, unit: m.descriptor.unit, points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })) });
      }
    }
    done({ code: 0 });
  },
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 100 })] }));
