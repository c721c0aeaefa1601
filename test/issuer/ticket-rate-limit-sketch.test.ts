import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TICKET_LIMITER_WIDTH, TicketRateLimiter } from '../../server/issuer/ticket-rate-limit.js';

/**
 * Regression (review of the issuer, findings 1 and 2): the ticket limiter held at most 10,000
 * keys and refused every key it had not seen once full (node:http/Express, Hono), and the
 * Fastify route's @fastify/rate-limit forgot the oldest of 5,000 keys, giving a limited /64 a
 * fresh budget within its window. The limiter is now a count-min sketch of fixed size: it may
 * over-count, never under-count, never forgets within its window and cannot be filled.
 */
const WINDOW = 60_000;

/** The documented windows with exact per-key counts: what the limiter must never let more through than. */
class ExactModel {
  readonly #counts = new Map<string, number>();
  #windowEnd = -Infinity;

  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** Rolls the window as documented: a new one at the first request after the last ended; a clock gone back before the window began moves its end, keeping counts. */
  at(now: number): void {
    if (now >= this.#windowEnd) {
      this.#counts.clear();
      this.#windowEnd = now + this.windowMs;
    } else if (now < this.#windowEnd - this.windowMs) {
      this.#windowEnd = now + this.windowMs;
    }
  }

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  letIn(key: string): void {
    this.#counts.set(key, this.count(key) + 1);
  }
}

type Step = { key: string } | { tick: number };

const steps = (keys: number): fc.Arbitrary<Step[]> =>
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: keys - 1 }).map((k) => ({ key: `2001:db8:${k.toString(16)}::/64` })) },
      // forward within and past a window, and back (a clock that was corrected)
      { weight: 1, arbitrary: fc.integer({ min: -2 * WINDOW, max: 2 * WINDOW }).map((tick) => ({ tick })) },
    ),
    { maxLength: 300 },
  );

/** Runs `run` against a fresh limiter and the model; calls `check(allowed, left, model count before)` on each request. */
function replay(max: number, width: number, run: Step[], check: (allowed: boolean, left: number, counted: number) => void): void {
  let now = 1_000_000;
  const limiter = new TicketRateLimiter(max, { width, now: () => now });
  const model = new ExactModel(max, WINDOW);
  for (const step of run) {
    if ('tick' in step) {
      now += step.tick;
      continue;
    }
    model.at(now);
    const counted = model.count(step.key);
    const left = limiter.take(step.key);
    check(left >= 0, left, counted);
    if (left >= 0) model.letIn(step.key);
  }
}

describe('TicketRateLimiter (count-min sketch) against an exact per-key model', () => {
  it('property: never lets a key in more than max times in a window, whatever the collisions (widths 1 to 8) and clock moves', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.constantFrom(1, 2, 4, 8), steps(24), (max, width, run) => {
        replay(max, width, run, (allowed, left, counted) => {
          if (allowed) {
            // the model had room: an allowed request is never one past max
            expect(counted).toBeLessThan(max);
            // what it says is left never exceeds what is truly left
            expect(left).toBeLessThanOrEqual(max - counted - 1);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('property: as shipped (width 2^16), a few keys are counted exactly — the same answers as the model', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), steps(12), (max, run) => {
        replay(max, TICKET_LIMITER_WIDTH, run, (allowed, left, counted) => {
          expect(allowed).toBe(counted < max);
          if (allowed) expect(left).toBe(max - counted - 1);
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe('TicketRateLimiter under a flood of distinct keys (as shipped: 30 a minute, width 2^16)', () => {
  const FLOOD = 200_000;
  const key = (i: number) => `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`;

  it('lets every flooding key in, still lets a fresh key in afterwards (its whole budget, give or take collisions), and still refuses a key that had hit its limit; the memory does not change', () => {
    const now = 0;
    const limiter = new TicketRateLimiter(30, { now: () => now });
    const bytes = limiter.byteLength;
    expect(bytes).toBe(4 * TICKET_LIMITER_WIDTH * 2); // 512 KiB: four rows of 2^16 16-bit counters

    const limited = '198.51.100.7';
    for (let i = 0; i < 30; i++) expect(limiter.allow(limited)).toBe(true);
    expect(limiter.allow(limited)).toBe(false);

    let refused = 0;
    for (let i = 0; i < FLOOD; i++) if (!limiter.allow(key(i))) refused++;
    expect(refused).toBe(0);

    // the old limiter refused every key it had not seen once 10,000 were live
    let fresh = 0;
    for (let i = 0; i < 30; i++) if (limiter.allow('2001:db8:ffff:1::/64')) fresh++;
    expect(fresh).toBeGreaterThanOrEqual(20); // over-counting by collisions is small: ~3 requests a counter here
    expect(limiter.allow('203.0.113.9')).toBe(true);

    // same window: no count is forgotten
    expect(limiter.allow(limited)).toBe(false);
    expect(limiter.byteLength).toBe(bytes);
  });

  it('after the window ends, the limited key has its budget again', () => {
    let now = 0;
    const limiter = new TicketRateLimiter(2, { now: () => now });
    expect([limiter.allow('a'), limiter.allow('a'), limiter.allow('a')]).toEqual([true, true, false]);
    now = WINDOW - 1;
    expect(limiter.allow('a')).toBe(false);
    expect(limiter.msUntilReset()).toBe(1);
    now = WINDOW;
    expect(limiter.allow('a')).toBe(true);
    expect(limiter.msUntilReset()).toBe(WINDOW);
  });

  it('a clock gone back keeps the counts (the window then ends windowMs from the new time)', () => {
    let now = 10 * WINDOW;
    const limiter = new TicketRateLimiter(1, { now: () => now });
    expect([limiter.allow('a'), limiter.allow('a')]).toEqual([true, false]);
    now = 0; // ten windows back
    expect(limiter.allow('a')).toBe(false);
    now = WINDOW - 1;
    expect(limiter.allow('a')).toBe(false);
    now = WINDOW;
    expect(limiter.allow('a')).toBe(true);
  });

  it('a limit above 65,535 counts in 32 bits; bad sizes are TypeErrors', () => {
    expect(new TicketRateLimiter(65_535).byteLength).toBe(4 * TICKET_LIMITER_WIDTH * 2);
    expect(new TicketRateLimiter(65_536).byteLength).toBe(4 * TICKET_LIMITER_WIDTH * 4);
    const big = new TicketRateLimiter(70_000, { now: () => 0, width: 4 });
    let allowed = 0;
    while (big.allow('a') && allowed < 80_000) allowed++;
    expect(allowed).toBe(70_000);
    expect(() => new TicketRateLimiter(0)).toThrow(TypeError);
    expect(() => new TicketRateLimiter(1, { width: 3 })).toThrow(/power of two/);
    expect(() => new TicketRateLimiter(1, { windowMs: 0 })).toThrow(/windowMs/);
  });
});
