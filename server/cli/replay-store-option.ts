import { MemoryReplayStore } from '../stores/memory.js';
import { RedisReplayStore } from '../stores/redis.js';
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
  /** Told of Redis connection errors (the store fails closed meanwhile). */
  onError?: ((error: Error) => void) | undefined;
}

/** `--replay-store SPEC` → a store: `memory`, or `redis://HOST:PORT[/DB]` shared by every instance. */
export function openReplayStore(spec: string, settings: ReplayStoreSettings = {}): OpenedReplayStore {
  if (spec === 'memory') return { store: new MemoryReplayStore(), label: 'memory' };
  if (/^rediss?:\/\//.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new UsageError('--replay-store: not a valid redis:// URL');
    }
    try {
      const store = new RedisReplayStore(spec, { timeoutMs: settings.timeoutMs, onClientError: settings.onError });
      return { store, label: `redis ${url.host}${url.pathname === '/' ? '' : url.pathname}` };
    } catch (error) {
      throw new UsageError(`--replay-store: ${error instanceof Error ? error.message : 'unusable'}`);
    }
  }
  throw new UsageError('--replay-store must be memory or redis://HOST:PORT[/DB]');
}
