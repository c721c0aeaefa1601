import { MemoryReplayStore } from '../stores/memory.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { UsageError } from './usage-error.js';

export interface OpenedReplayStore {
  readonly store: ReplayStore;
  /** For the start line: never a password. */
  readonly label: string;
}

/**
 * `--replay-store SPEC` → a store. One branch per kind: `memory` today; a `redis://…` URL
 * becomes one more branch here (open a RedisReplayStore, label it with host:port only).
 */
export function openReplayStore(spec: string): OpenedReplayStore {
  if (spec === 'memory') return { store: new MemoryReplayStore(), label: 'memory' };
  throw new UsageError('--replay-store must be memory');
}
