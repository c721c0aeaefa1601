import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TicketRateLimiter } from '../../server/issuer/ticket-rate-limit.js';

/** The ticket route's limiter of the node:http/Express and Hono adapters (one class for both). */
describe('TicketRateLimiter', () => {
  it('allows max per key per window, then refuses until the window ends; keys are independent', () => {
    let now = 0;
    const limiter = new TicketRateLimiter(2, { now: () => now });
    expect([limiter.allow('a'), limiter.allow('a'), limiter.allow('a'), limiter.allow('b')]).toEqual([true, true, false, true]);
    now = 60_000;
    expect(limiter.allow('a')).toBe(true);
  });

  it('never tracks more than 10 000 keys: a newcomer is refused while every window is live, let in once they end', () => {
    let now = 0;
    const limiter = new TicketRateLimiter(1, { now: () => now });
    for (let i = 0; i < 10_000; i++) expect(limiter.allow(`k${i}`)).toBe(true);
    expect(limiter.allow('newcomer')).toBe(false);
    now = 60_000;
    expect(limiter.allow('newcomer')).toBe(true);
  });

  it('property: within one window, a key is allowed exactly min(n, max) times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 80 }), (max, keys) => {
        const limiter = new TicketRateLimiter(max, { now: () => 0 });
        const allowed = new Map<string, number>();
        for (const k of keys) if (limiter.allow(k)) allowed.set(k, (allowed.get(k) ?? 0) + 1);
        for (const k of new Set(keys)) expect(allowed.get(k) ?? 0).toBe(Math.min(max, keys.filter((x) => x === k).length));
      }),
    );
  });
});

describe('TicketRateLimiter with its own window and key bound', () => {
  it('counts per key per window, and refuses new keys when full until windows expire', () => {
    let now = 0;
    const limiter = new TicketRateLimiter(2, { windowMs: 1000, maxKeys: 2, now: () => now });
    expect([limiter.allow('a'), limiter.allow('a'), limiter.allow('a')]).toEqual([true, true, false]);
    expect(limiter.allow('b')).toBe(true);
    expect(limiter.allow('c')).toBe(false);
    now = 1000;
    expect([limiter.allow('c'), limiter.allow('a')]).toEqual([true, true]);
  });
});
