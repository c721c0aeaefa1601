/**
 * A replay store remembers opaque keys for a time. It knows nothing of stamps: the verifier
 * hands it a key derived from (kid, jti) and a TTL.
 *
 * `insertIfAbsent` must be atomic: it returns true when the key was absent and is now
 * stored, false when it is already present (a replay). It throws (or rejects) when it cannot
 * answer — unreachable, or full — and the verifier then fails closed with `store-unavailable`.
 * A store must never forget a key before its TTL has passed.
 */
export interface ReplayStore {
  insertIfAbsent(key: string, ttlMs: number): boolean | Promise<boolean>;
  close?(): void | Promise<void>;
}

export function isReplayStore(value: unknown): value is ReplayStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { insertIfAbsent?: unknown }).insertIfAbsent === 'function'
  );
}
