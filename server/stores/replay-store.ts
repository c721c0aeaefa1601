import { IpStampError } from '../../shared/errors.js';

/**
 * A replay store remembers opaque keys for a time. It knows nothing of stamps: the verifier
 * hands it a key derived from (kid, jti) and a TTL.
 *
 * `insertIfAbsent` must be atomic: it returns true when the key was absent and is now
 * stored, false when it is already present (a replay). It throws (or rejects) when it cannot
 * answer — unreachable, or full — and the verifier then fails closed with `store-unavailable`.
 * A store that cannot take a key for lack of room throws `ReplayStoreFullError`: capacity is
 * something an attacker can exhaust, so no outage policy (`onStoreError: 'accept'`) lets that
 * stamp through.
 * A store must never forget a key before its TTL has passed.
 *
 * A store that can answer at once should return the boolean, not a promise of it: the verifier
 * (and the Fastify, node:http and Hono glue) then finishes the request in the same call, where a
 * promise costs a trip through the microtask queue (bench/README.md, "HTTP cost").
 */
export interface ReplayStore {
  insertIfAbsent(key: string, ttlMs: number): boolean | Promise<boolean>;
  close?(): void | Promise<void>;
}

export function isReplayStore(value: unknown): value is ReplayStore {
  return typeof value === 'object' && value !== null && typeof (value as { insertIfAbsent?: unknown }).insertIfAbsent === 'function';
}

/**
 * The store has no room for another key (memory table at its cap, Redis at `maxmemory`, too
 * many commands already waiting). Still a `store-unavailable` refusal on the wire; the distinct
 * code lets the verifier fail closed whatever the outage policy says, and logs and metrics say "full".
 */
export class ReplayStoreFullError extends IpStampError {
  override readonly code = 'ERR_IPSTAMP_STORE_FULL';

  constructor(options?: { cause?: unknown }) {
    super('store-unavailable', options);
  }
}

/** True for a full store's refusal, from this package or a store that sets the same code. */
export function isReplayStoreFullError(error: unknown): boolean {
  return error instanceof ReplayStoreFullError || (error as { code?: unknown } | null)?.code === 'ERR_IPSTAMP_STORE_FULL';
}

/**
 * The checks every store makes on `insertIfAbsent(key, ttlMs)`. A wrong argument is a
 * programming error in the caller, so it throws a TypeError — it must not look like a replay
 * (false) or like a store outage (store-unavailable).
 */
export function assertInsertArguments(key: unknown, ttlMs: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError('replay store key must be a string');
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || ttlMs === Infinity) {
    throw new TypeError('replay store ttlMs must be a positive finite number');
  }
}
