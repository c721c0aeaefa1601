import { SpanKind, SpanStatusCode, trace, type MeterProvider, type Span, type TracerProvider } from '@opentelemetry/api';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { isReplayStoreFullError } from '../stores/replay-store.js';
import type { VerifierInstrumentation, VerifyFunction } from '../verify/instrumentation.js';
import type { VerifyResult } from '../verify/types.js';
import { globalContext, globalMeterProvider, globalTracerProvider, type ContextAccess } from './global-api.js';
import { TELEMETRY_NAMES } from './names.js';
import { durationAttributes, ERROR_DURATION_ATTRIBUTES, outcomeAttributes, storeOutcomeAttributes } from './outcome-attributes.js';

const { spans: SPAN, metrics: METRIC, attributes: ATTR } = TELEMETRY_NAMES;

/** The instrumentation scope every span and instrument is created under. */
export const INSTRUMENTATION_SCOPE = 'ipstamp';

/** Reasons where the kid is the client's claim, not a key this verifier holds: never put on a span. */
const UNVERIFIED_KID_REASONS: ReadonlySet<string> = new Set(['unknown-key', 'bad-ticket']);

/**
 * Seconds, for the histograms: verification takes tens of microseconds, a Redis round trip a
 * millisecond or so, a store timeout 200 ms by default.
 */
const DURATION_BUCKETS = [0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface OpenTelemetryOptions {
  /** Where spans go. Default: the globally registered one, whatever `@opentelemetry/api` 1.x minor registered it. */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the globally registered one, whatever `@opentelemetry/api` 1.x minor registered it. */
  meterProvider?: MeterProvider;
}

const OPEN_TELEMETRY_OPTION_NAMES: OptionNames<OpenTelemetryOptions> = Object.freeze({ tracerProvider: true, meterProvider: true });

function provider<T>(options: OpenTelemetryOptions, name: keyof OpenTelemetryOptions, method: string, fallback: () => T): T {
  const value = options[name];
  if (value === undefined) return fallback();
  if (typeof (value as unknown as Record<string, unknown> | null)?.[method] !== 'function') {
    throw new TypeError(`${name} must be an OpenTelemetry ${name === 'tracerProvider' ? 'TracerProvider' : 'MeterProvider'}`);
  }
  return value as T;
}

/** An error's kind, for `error.type`: its code or class, never its message (a store's message may quote a key). */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  const name = (error as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'unknown';
}

/** The span's extra detail (unbounded, so never on a metric): the verified key id, the address, which hint decided. */
function spanDetail(span: Span, result: VerifyResult): void {
  if (!result.ok) {
    if (result.kid !== undefined && !UNVERIFIED_KID_REASONS.has(result.reason)) span.setAttribute(ATTR.kid, result.kid);
    // a refused stamp is the verifier working; only a store that cannot answer is a fault of this service
    if (result.reason === 'store-unavailable') {
      span.setAttribute(ATTR.errorType, result.store === 'full' ? 'ERR_IPSTAMP_STORE_FULL' : 'store-unavailable');
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return;
  }
  const { verdict, hints } = result;
  if (hints.decidedBy !== undefined) span.setAttribute(ATTR.decidedBy, hints.decidedBy);
  if (verdict === null) return;
  span.setAttribute(ATTR.kid, verdict.kid);
  span.setAttribute(ATTR.alg, verdict.alg);
  span.setAttribute(ATTR.clientAddress, verdict.ip);
}

/**
 * Spans around verification and the replay store, and metrics, through `@opentelemetry/api`:
 * a no-op until the application installs an SDK. Pass the result as the `telemetry` option of
 * `createVerifier`, the Fastify plugin, the node/Express or Hono middleware. Register the SDK
 * first: the providers are looked up here, once (the api has no late-binding proxy for meters).
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): VerifierInstrumentation {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, OPEN_TELEMETRY_OPTION_NAMES);
  const tracerProvider = provider(options, 'tracerProvider', 'getTracer', globalTracerProvider);
  const meterProvider = provider(options, 'meterProvider', 'getMeter', globalMeterProvider);
  const contexts: ContextAccess = globalContext();
  const tracer = tracerProvider.getTracer(INSTRUMENTATION_SCOPE);
  const meter = meterProvider.getMeter(INSTRUMENTATION_SCOPE);

  const requests = meter.createCounter(METRIC.requests, { description: 'Verifications by outcome, reason and agreement.', unit: '{request}' });
  const verifyDuration = meter.createHistogram(METRIC.verifyDuration, {
    description: 'Time to verify a request, replay store included.',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const storeDuration = meter.createHistogram(METRIC.replayStoreDuration, {
    description: "Time in the replay store's insertIfAbsent.",
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });

  function instrumentVerify(verify: VerifyFunction): VerifyFunction {
    return async function instrumentedVerify(input) {
      const parent = contexts.active();
      const span = tracer.startSpan(SPAN.verify, { kind: SpanKind.INTERNAL }, parent);
      const started = performance.now();
      let result: VerifyResult;
      try {
        result = await contexts.with(trace.setSpan(parent, span), verify, undefined, input);
      } catch (error) {
        // the core never throws for bad input: this is a bug or a key source gone wrong
        span.setAttribute(ATTR.outcome, 'error');
        span.setAttribute(ATTR.errorType, errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        verifyDuration.record((performance.now() - started) / 1000, ERROR_DURATION_ATTRIBUTES);
        throw error;
      }
      const attributes = outcomeAttributes(result);
      span.setAttributes(attributes);
      spanDetail(span, result);
      span.end();
      requests.add(1, attributes);
      verifyDuration.record((performance.now() - started) / 1000, durationAttributes(result));
      return result;
    };
  }

  function instrumentReplayStore(store: ReplayStore): ReplayStore {
    const finish = (span: Span, started: number, outcome: 'inserted' | 'replay' | 'full' | 'error', error?: unknown): void => {
      span.setAttribute(ATTR.storeOutcome, outcome);
      if (error !== undefined) {
        span.setAttribute(ATTR.errorType, errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
      storeDuration.record((performance.now() - started) / 1000, storeOutcomeAttributes(outcome));
    };
    const failed = (span: Span, started: number, error: unknown): void => finish(span, started, isReplayStoreFullError(error) ? 'full' : 'error', error);
    const instrumented: ReplayStore = {
      insertIfAbsent(key, ttlMs) {
        const span = tracer.startSpan(SPAN.replayStoreInsert, { kind: SpanKind.INTERNAL }, contexts.active());
        const started = performance.now();
        let answer: boolean | Promise<boolean>;
        try {
          answer = store.insertIfAbsent(key, ttlMs);
        } catch (error) {
          failed(span, started, error);
          throw error;
        }
        // a synchronous store (memory) stays synchronous: no extra trip through the microtask queue
        if (typeof answer === 'boolean') {
          finish(span, started, answer ? 'inserted' : 'replay');
          return answer;
        }
        return Promise.resolve(answer).then(
          (fresh) => {
            finish(span, started, fresh ? 'inserted' : 'replay');
            return fresh;
          },
          (error: unknown) => {
            failed(span, started, error);
            throw error;
          },
        );
      },
    };
    if (typeof store.close === 'function') instrumented.close = () => store.close!();
    return instrumented;
  }

  return { instrumentVerify, instrumentReplayStore };
}
