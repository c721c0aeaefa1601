import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type MetricData,
} from '@opentelemetry/sdk-metrics';

/**
 * The context manager an SDK setup registers (NodeSDK uses @opentelemetry/context-async-hooks'
 * AsyncLocalStorageContextManager, which is not installed here): the same thing in a few lines.
 */
export class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(context, () => fn.apply(thisArg, args));
  }
  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = <A extends unknown[], R>(fn: (...a: A) => R, thisArg: unknown, args: A): R => this.with(context, fn, thisArg as never, ...args);
    return function bound(this: unknown, ...args: unknown[]) {
      return run(target as (...a: unknown[]) => unknown, this, args);
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

export interface MetricPoint {
  readonly attributes: Record<string, unknown>;
  /** A counter's sum, or a histogram's count. */
  readonly value: number;
}

/** An SDK 2.x tracer and meter provider exporting to memory, as the tests read them. */
export interface InMemorySdk {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  spans(): ReadableSpan[];
  /** Every metric, collected now (cumulative since the start). */
  metrics(): Promise<MetricData[]>;
  /** The points of one metric: a counter's values, a histogram's counts. */
  points(name: string): Promise<MetricPoint[]>;
  shutdown(): Promise<void>;
}

export function inMemorySdk(): InMemorySdk {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // collected on demand (forceFlush), never on a timer
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metrics = async (): Promise<MetricData[]> => {
    metricExporter.reset();
    await reader.forceFlush();
    return metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  };
  return {
    tracerProvider,
    meterProvider,
    spans: () => spanExporter.getFinishedSpans(),
    metrics,
    async points(name) {
      const metric = (await metrics()).find((m) => m.descriptor.name === name);
      if (metric === undefined) return [];
      return (metric.dataPoints as DataPoint<unknown>[]).map((p) => ({
        attributes: { ...p.attributes },
        value: typeof p.value === 'number' ? p.value : (p.value as { count: number }).count,
      }));
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Every string an exporter would send: span names, attribute values (spans, events, links, resource), status messages, metric attributes. */
export async function everyExportedValue(sdk: InMemorySdk): Promise<string[]> {
  const values: string[] = [];
  const add = (attributes: Record<string, unknown> | undefined): void => {
    for (const [name, value] of Object.entries(attributes ?? {})) values.push(name, JSON.stringify(value));
  };
  for (const span of sdk.spans()) {
    values.push(span.name, span.status.message ?? '');
    add(span.attributes);
    for (const event of span.events) {
      values.push(event.name);
      add(event.attributes);
    }
    for (const link of span.links) add(link.attributes);
  }
  for (const metric of await sdk.metrics()) {
    values.push(metric.descriptor.name, metric.descriptor.description);
    for (const point of metric.dataPoints as DataPoint<unknown>[]) add(point.attributes);
  }
  return values;
}
