import type { VerifierInstrumentation } from '../verify/instrumentation.js';
import { UsageError } from './usage-error.js';

/**
 * `--telemetry`: the verifier instrumented through the OpenTelemetry SDK this process registered
 * before the CLI ran (`node --import ./otel.mjs …/ipstamp serve`). `@opentelemetry/api` is an
 * optional peer dependency, so ipstamp/telemetry is loaded only now, and its absence is told as
 * a usage error rather than a stack trace.
 */
export async function loadTelemetry(): Promise<VerifierInstrumentation> {
  let entry: typeof import('../telemetry/index.js');
  try {
    entry = await import('../telemetry/index.js');
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes('@opentelemetry/api')) {
      throw new UsageError('--telemetry needs @opentelemetry/api: npm install @opentelemetry/api (and register an SDK, docs/telemetry.md)');
    }
    throw error;
  }
  return entry.openTelemetry();
}
