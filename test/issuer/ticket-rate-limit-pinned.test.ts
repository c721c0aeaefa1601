import { describe, expect, it } from 'vitest';
import { TICKET_LIMITER_WIDTH, TicketRateLimiter } from '../../server/issuer/ticket-rate-limit.js';

/**
 * The ticket limiter (server/issuer/ticket-rate-limit.ts, docs/rate-limits.md), pinned where
 * mutation testing found it unasserted: sizes that would break the limit or the memory bound are
 * refused at construction; after a clock jump back the reset it states is never more than one
 * window; and the four rows pick their counters independently, under a key of each limiter's
 * own — what makes a newcomer's collision with one other address a 1-in-16 event at width 2,
 * and the same event for nobody twice.
 */
const WINDOW = 60_000;

describe('TicketRateLimiter: sizes that would break the limit or the memory bound are TypeErrors', () => {
  it('width 0 (no counters: every key would be let in, without limit)', () => {
    expect(() => new TicketRateLimiter(1, { width: 0 })).toThrow(new TypeError('width must be a power of two from 1 to 2^24'));
  });

  it('width 2^25 (the bound is 2^24: 4 rows of 2^25 two-byte counters would be 256 MiB)', () => {
    expect(() => new TicketRateLimiter(1, { width: 2 ** 25 })).toThrow(new TypeError('width must be a power of two from 1 to 2^24'));
  });

  it.each([Infinity, Number.NaN, -1])('windowMs %s (a window that never ends would hold a count forever)', (windowMs) => {
    expect(() => new TicketRateLimiter(1, { windowMs })).toThrow(new TypeError('windowMs must be a positive finite number'));
  });

  it('width 1 is the smallest sketch and still holds the limit: every key shares its counters', () => {
    const limiter = new TicketRateLimiter(2, { width: 1, now: () => 0 });
    expect(['a', 'b', 'c'].map((k) => limiter.allow(k))).toEqual([true, true, false]);
    expect(limiter.byteLength).toBe(4 * 2);
  });
});

describe('TicketRateLimiter: the memory as documented (docs/rate-limits.md)', () => {
  it('as shipped: four rows of 65,536 two-byte counters, 512 KiB; 1 MiB for a limit above 65,535', () => {
    // the other tests size it by TICKET_LIMITER_WIDTH, so they would follow a changed width
    expect(TICKET_LIMITER_WIDTH).toBe(65_536);
    expect(new TicketRateLimiter(30).byteLength).toBe(512 * 1024);
    expect(new TicketRateLimiter(65_536).byteLength).toBe(1024 * 1024);
  });
});

describe('TicketRateLimiter: a refused request is not counted', () => {
  it('at 65,535, the largest limit kept in 16-bit counters, a key past its limit stays refused (no counter wraps to 0)', () => {
    const limiter = new TicketRateLimiter(65_535, { width: 1, now: () => 0 });
    let allowed = 0;
    for (let i = 0; i < 65_535; i++) if (limiter.allow('a')) allowed++;
    expect(allowed).toBe(65_535);
    // were a refused request counted, the counter would pass 65,535 and wrap to 0: a fresh budget
    expect(Array.from({ length: 5 }, () => limiter.take('a'))).toEqual([-1, -1, -1, -1, -1]);
  });
});

describe('TicketRateLimiter: msUntilReset', () => {
  it('after the clock went back, states at most one window until reset (what Retry-After says), and keeps the count', () => {
    let now = 10 * WINDOW;
    const limiter = new TicketRateLimiter(1, { now: () => now });
    expect(limiter.allow('a')).toBe(true);
    now = 0; // ten windows back, before any request rolled the window
    expect(limiter.msUntilReset()).toBe(WINDOW);
    expect(limiter.allow('a')).toBe(false);
  });

  it('is 0 before any request, and counts down within the window', () => {
    let now = 5_000;
    const limiter = new TicketRateLimiter(1, { now: () => now });
    expect(limiter.msUntilReset()).toBe(0);
    limiter.allow('a');
    now += 20_000;
    expect(limiter.msUntilReset()).toBe(WINDOW - 20_000);
  });
});

describe('TicketRateLimiter: four independent rows under a random key per limiter', () => {
  it('at width 2, a newcomer finds all four counters of one other address taken about 1 time in 16, across fresh limiters', () => {
    // One address let in (max 1), then one newcomer: it is refused only if each of the four rows
    // put both in the same of its 2 counters, chance (1/2)^4 = 1/16 when the rows choose
    // independently. Rows that reuse one hash word or share counters refuse ~1/8 or more; a
    // hash key fixed in the code gives every limiter the same answer (0 or all refused).
    const TRIALS = 20_000;
    let refused = 0;
    for (let i = 0; i < TRIALS; i++) {
      const limiter = new TicketRateLimiter(1, { width: 2, now: () => 0 });
      limiter.allow('198.51.100.7');
      if (!limiter.allow('2001:db8:1:2::/64')) refused++;
    }
    // mean 1,250, standard deviation ~34: the bounds are more than 7 deviations away
    expect(refused).toBeGreaterThan(1_000);
    expect(refused).toBeLessThan(1_500);
  });
});
