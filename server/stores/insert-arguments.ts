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
