import { MemoryReplayStore } from '../stores/memory.js';
import { RedisReplayStore } from '../stores/redis.js';
import { describeRedisLocation, parseRedisUrl, REDIS_URL_FORMS } from '../stores/redis-url.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { UsageError } from './usage-error.js';

export interface OpenedReplayStore {
  readonly store: ReplayStore;
  /** For the start line: never a password. */
  readonly label: string;
}

export interface ReplayStoreSettings {
  /** How long an insert may wait for Redis before the request fails `store-unavailable` (ms). */
  timeoutMs?: number | undefined;
  /** Redis replicas that must hold each new key before it counts (`WAIT`); 0 or undefined: none. */
  waitForReplicas?: number | undefined;
  /** Told of Redis connection errors (the store fails closed meanwhile). */
  onError?: ((error: Error) => void) | undefined;
}

/**
 * `--replay-store SPEC` → a store: `memory`, or a Redis shared by every instance — one
 * (`redis://`), a primary found through sentinels (`redis+sentinel://`), or a Cluster
 * (`redis+cluster://`); the spellings are parsed in stores/redis-url.ts.
 */
export function openReplayStore(spec: string, settings: ReplayStoreSettings = {}): OpenedReplayStore {
  const waitForReplicas = settings.waitForReplicas ?? 0;
  if (spec === 'memory') {
    if (waitForReplicas !== 0) throw new UsageError('--store-replicas needs a Redis --replay-store');
    return { store: new MemoryReplayStore(), label: 'memory' };
  }
  if (/^rediss?(?:\+[a-z]+)?:\/\//.test(spec)) {
    try {
      const label = describeRedisLocation(parseRedisUrl(spec));
      const store = new RedisReplayStore(spec, { timeoutMs: settings.timeoutMs, waitForReplicas, onClientError: settings.onError });
      return { store, label: waitForReplicas === 0 ? label : `${label} (WAIT ${waitForReplicas})` };
    } catch (error) {
      throw new UsageError(`--replay-store: ${error instanceof Error ? error.message : 'unusable'}`);
    }
  }
  throw new UsageError(`--replay-store must be memory, ${REDIS_URL_FORMS}`);
}
