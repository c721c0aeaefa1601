import {
  context as apiContext,
  metrics as apiMetrics,
  trace as apiTrace,
  type Context,
  type ContextManager,
  type MeterProvider,
  type TracerProvider,
} from '@opentelemetry/api';

/**
 * The slot every 1.x copy of `@opentelemetry/api` keeps its globals in (the api's
 * src/internal/global-utils.ts): `{ version, trace, metrics, context, … }`, written by the
 * copy the application registered its SDK through.
 *
 * The api's own getters (`trace.getTracerProvider()`…) return what is there only when the
 * registering copy's minor is at least their own (`isCompatible` in src/internal/semver.ts):
 * a library on api 1.9 in an app whose SDK registered through api 1.4 gets no-op tracers and
 * meters, and its spans vanish. That check guards against a newer api calling methods an older
 * SDK lacks; ipstamp calls only what api 1.3 already has (getTracer, startSpan, setAttribute(s),
 * setStatus, end; getMeter, createCounter, createHistogram, add, record; context active/with),
 * so it reads the slot itself and accepts any 1.x registration.
 */
const GLOBAL_SLOT = Symbol.for('opentelemetry.js.api.1');

interface RegisteredGlobals {
  readonly version?: unknown;
  readonly trace?: unknown;
  readonly metrics?: unknown;
  readonly context?: unknown;
}

/** The active context and running a function in one: what a ContextManager and the api's ContextAPI both offer. */
export interface ContextAccess {
  active(): Context;
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F>;
}

function registered(): RegisteredGlobals | undefined {
  const slot = (globalThis as Record<symbol, unknown>)[GLOBAL_SLOT];
  if (typeof slot !== 'object' || slot === null) return undefined;
  const { version } = slot as RegisteredGlobals;
  return typeof version === 'string' && version.startsWith('1.') ? (slot as RegisteredGlobals) : undefined;
}

const hasMethods = (value: unknown, ...names: string[]): boolean =>
  typeof value === 'object' && value !== null && names.every((n) => typeof (value as Record<string, unknown>)[n] === 'function');

/**
 * The registered tracer provider whatever api minor registered it; else this copy's own proxy,
 * which still picks up an SDK registered later through this same copy.
 */
export function globalTracerProvider(): TracerProvider {
  const found = registered()?.trace;
  return hasMethods(found, 'getTracer') ? (found as TracerProvider) : apiTrace.getTracerProvider();
}

/** The registered meter provider whatever api minor registered it; else a no-op one (the api has no proxy for meters). */
export function globalMeterProvider(): MeterProvider {
  const found = registered()?.metrics;
  return hasMethods(found, 'getMeter') ? (found as MeterProvider) : apiMetrics.getMeterProvider();
}

/** The registered context manager whatever api minor registered it; else this copy's context API. */
export function globalContext(): ContextAccess {
  const found = registered()?.context;
  return hasMethods(found, 'active', 'with') ? (found as ContextManager) : apiContext;
}
