/**
 * `ipstamp/telemetry`: spans and metrics through `@opentelemetry/api` (an optional peer
 * dependency: only this entry loads it). `telemetry: openTelemetry()` in any adapter's options.
 */
export { openTelemetry, INSTRUMENTATION_SCOPE, type OpenTelemetryOptions } from './open-telemetry.js';
export { TELEMETRY_NAMES } from './names.js';
export type { VerifierInstrumentation, VerifyFunction } from '../verify/instrumentation.js';
