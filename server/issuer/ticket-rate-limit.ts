/**
 * The ticket route's limiter for adapters without a limiter of their own (node:http/Express,
 * Hono): requests per key per fixed window, keyed by `rateLimitKey` (an IPv6 /64 is one key).
 * Bounded in memory: when `maxKeys` windows are live, expired ones are swept, and a newcomer
 * that still finds no room is refused — a limiter that forgot counts under a flood would let
 * the flood farm tickets. The Fastify plugin uses @fastify/rate-limit with the same key.
 */
export class TicketRateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(max: number, options: { windowMs?: number; maxKeys?: number; now?: () => number } = {}) {
    this.#max = max;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Counts one request for `key`; false when it is over the limit (or no room is left for a new key). */
  allow(key: string): boolean {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window !== undefined && window.resetAt > now) {
      window.count++;
      return window.count <= this.#max;
    }
    if (window === undefined && this.#windows.size >= this.#maxKeys) {
      for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
      if (this.#windows.size >= this.#maxKeys) return false;
    }
    this.#windows.set(key, { count: 1, resetAt: now + this.#windowMs });
    return true;
  }
}
