import type { ReplayStore } from '../stores/replay-store.js';
import type { VerifyInput, VerifyResult } from './types.js';

/** A verifier's `verify`, as an instrumentation wraps it. */
export type VerifyFunction = (input: VerifyInput) => Promise<VerifyResult>;

/**
 * What `createVerifier({ telemetry })` plugs in: `openTelemetry()` from `ipstamp/telemetry`
 * makes one. The verifier's replay store and its `verify` are wrapped once, at creation.
 * Without it the verifier is the uninstrumented one — no wrapper, nothing paid per request —
 * and nothing of `@opentelemetry/api` is loaded (it is an optional peer dependency).
 */
export interface VerifierInstrumentation {
  instrumentReplayStore(store: ReplayStore): ReplayStore;
  instrumentVerify(verify: VerifyFunction): VerifyFunction;
}

export function isVerifierInstrumentation(value: unknown): value is VerifierInstrumentation {
  const candidate = value as Partial<Record<keyof VerifierInstrumentation, unknown>> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.instrumentReplayStore === 'function' &&
    typeof candidate.instrumentVerify === 'function'
  );
}
