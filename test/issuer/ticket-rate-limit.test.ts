import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TicketRateLimiter } from '../../server/issuer/ticket-rate-limit.js';

/** The ticket route's limiter of every adapter (Fastify, node:http/Express, Hono: one class for all). */
describe('TicketRateLimiter', () => {
  it('allows max per key per window, then refuses until the window ends; keys are independent', () => {
    let now = 0;
    const limiter = new TicketRateLimiter(2, { now: () => now });
    expect([limiter.allow('a'), limiter.allow('a'), limiter.allow('a'), limiter.allow('b')]).toEqual([true, true, false, true]);
    now = 60_000;
    expect(limiter.allow('a')).toBe(true);
  });

  it('has no key bound: with 10,000 keys live a newcomer is let in (it was refused until windows ended)', () => {
    // a limit of 3, not 1: the sketch may over-count a key whose four counters all collide, and
    // with a limit of 1 one of 10,000 keys finds all four taken about once a run (at 3, ~1e-9)
    const limiter = new TicketRateLimiter(3, { now: () => 0 });
    for (let i = 0; i < 10_000; i++) expect(limiter.allow(`k${i}`)).toBe(true);
    expect([1, 2, 3, 4].map(() => limiter.allow('newcomer'))).toEqual([true, true, true, false]);
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

describe('TicketRateLimiter with its own window', () => {
  it('counts per key per window; the window ends windowMs after it began', () => {
    let now = 0;
    const limiter = new TicketRateLimiter(2, { windowMs: 1000, now: () => now });
    expect([limiter.allow('a'), limiter.allow('a'), limiter.allow('a')]).toEqual([true, true, false]);
    expect([limiter.allow('b'), limiter.allow('c')]).toEqual([true, true]);
    now = 999;
    expect(limiter.allow('a')).toBe(false);
    now = 1000;
    expect([limiter.allow('c'), limiter.allow('a')]).toEqual([true, true]);
  });
});
