/**
 * A fixed-window counter per key, bounded in memory: the ticket route's limiter (tickets per
 * observed address per minute). When `maxKeys` live windows exist, a new key is refused until
 * windows expire — a flood of addresses cannot grow it without bound, and it fails closed.
 */
export class WindowLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(max: number, windowMs: number, maxKeys = 10_000, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  /** Counts one request for `key`; false when it is over the limit. */
  take(key: string): boolean {
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
