import type { ReplayStore } from '../../server/stores/replay-store.js';

/** The simplest correct store (never expires anything), for core tests that are about the verifier, not stores. */
export class MapReplayStore implements ReplayStore {
  readonly seen = new Map<string, number>();
  insertIfAbsent(key: string, ttlMs: number): boolean {
    if (this.seen.has(key)) return false;
    this.seen.set(key, ttlMs);
    return true;
  }
}
