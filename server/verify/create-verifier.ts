import { MemoryReplayStore } from '../stores/memory.js';
import type { ReplayStore } from '../stores/replay-store.js';
import type { VerifierOptions } from './options.js';
import { nodePlatform } from './node-platform.js';
import { createVerifierPipeline, type Verifier } from './verifier.js';

export type CreateVerifierOptions = Omit<VerifierOptions, 'replayStore'> & {
  /** Default: a `MemoryReplayStore` for this process. Share a `RedisReplayStore` across instances. */
  replayStore?: ReplayStore;
};

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
  const replayStore = options.replayStore ?? new MemoryReplayStore(options.now ? { now: options.now } : {});
  return createVerifierCore({ ...options, replayStore });
}
