import { MemoryReplayStore } from '../stores/memory.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { isVerifierInstrumentation, type VerifierInstrumentation } from './instrumentation.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { VERIFIER_OPTION_NAMES, type VerifierOptions } from './options.js';
import { nodePlatform } from './node-platform.js';
import { createVerifierPipeline, type Verifier } from './verifier.js';

export type CreateVerifierOptions = Omit<VerifierOptions, 'replayStore'> & {
  /** Default: a `MemoryReplayStore` for this process. Share a `RedisReplayStore` across instances. */
  replayStore?: ReplayStore;
  /** Spans and metrics: `openTelemetry()` from `ipstamp/telemetry` (docs/telemetry.md). Default none: no wrapper, no cost. */
  telemetry?: VerifierInstrumentation;
};

/** Every option of `createVerifier` by name; an adapter adds its own to these. */
export const CREATE_VERIFIER_OPTION_NAMES: OptionNames<CreateVerifierOptions> = Object.freeze({ ...VERIFIER_OPTION_NAMES, telemetry: true });

/** The pure core on Node's platform (node:crypto, BlockList): plain data in, a verdict out. */
export function createVerifierCore(options: VerifierOptions): Verifier {
  return createVerifierPipeline(options, nodePlatform);
}

/**
 * The verifier with the defaults users expect: an in-memory replay store on the verifier's
 * own clock. The core stays free of any concrete store (ARCHITECTURE.md).
 */
export function createVerifier(options: CreateVerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, CREATE_VERIFIER_OPTION_NAMES);
  const { telemetry, ...rest } = options;
  if (telemetry !== undefined && !isVerifierInstrumentation(telemetry)) {
    throw new TypeError('telemetry must come from openTelemetry() (ipstamp/telemetry)');
  }
  const replayStore = options.replayStore ?? new MemoryReplayStore(options.now ? { now: options.now } : {});
  if (telemetry === undefined) return createVerifierCore({ ...rest, replayStore });
  const verifier = createVerifierCore({ ...rest, replayStore: telemetry.instrumentReplayStore(replayStore) });
  // the same object, so compiledOptionsOf still finds it; nobody else holds it yet
  verifier.verify = telemetry.instrumentVerify(verifier.verify);
  return verifier;
}
