import type { ReplayStore } from '../../server/stores/replay-store.js';
import { MapReplayStore } from './map-store.js';

/** A replay store that answers when the test says so: a verdict awaited as long as a test needs (a Redis round trip). */
export interface GatedStore {
  readonly store: ReplayStore;
  /** Resolves when the verifier first asks the store. */
  readonly asked: Promise<void>;
  /** Lets the store answer: `true` remembers the stamp (fresh), `false` says it was seen (a replay). */
  answer(fresh: boolean): void;
}

export function gatedStore(): GatedStore {
  let asked!: () => void;
  let answer!: (fresh: boolean) => void;
  const askedPromise = new Promise<void>((resolve) => (asked = resolve));
  const answered = new Promise<boolean>((resolve) => (answer = resolve));
  const memory = new MapReplayStore();
  return {
    store: {
      insertIfAbsent: async (key, ttlMs) => {
        asked();
        return (await answered) && memory.insertIfAbsent(key, ttlMs);
      },
    },
    asked: askedPromise,
    answer,
  };
}

/** Lets a released verdict's promise chain run to its end (it is microtasks only). */
export const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
