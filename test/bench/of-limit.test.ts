/**
 * ES256's goal is read against a limit, bare ÷ (bare + one raw verify), whose verify is now
 * timed in the bare server in every round (bench/README.md, "Fifteenth pass"): a limit priced in
 * another phase of the run, on a slower or faster host, read "met" where it was not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ofLimitByRound } from '../../bench/measure.js';

const round = (cpuPerRequestUs: number) => ({ cpuPerRequestUs });

describe('bench: ES256 against its limit, per round (bench/measure.js ofLimitByRound)', () => {
  it('is the variant over bare, divided by bare over bare plus one raw verify', () => {
    // bare 20 µs, a raw verify 60 µs: no ES256 verifier can go below 80 µs a request, and 100 is 0.8 of that
    expect(ofLimitByRound([round(20)], [round(100)], [60])).toEqual([0.8]);
    // at the limit exactly
    expect(ofLimitByRound([round(20)], [round(80)], [60])).toEqual([1]);
  });

  it('pairs each round with its own verify figure, not another round’s', () => {
    // the host slowed down in round 2: bare, the verify and the variant all cost more there
    const out = ofLimitByRound([round(20), round(30)], [round(100), round(150)], [60, 90]);
    expect(out).toEqual([0.8, 0.8]);
  });

  it('refuses rounds that do not pair up, rather than read another round or NaN', () => {
    expect(() => ofLimitByRound([round(20), round(30)], [round(100), round(150)], [60])).toThrow(RangeError);
    expect(() => ofLimitByRound([round(20)], [round(100), round(150)], [60, 90])).toThrow(/do not pair up/);
  });

  it('agrees with the definition for any figures', () => {
    const us = fc.double({ min: 1, max: 1e4, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(us, us, us), { minLength: 1, maxLength: 12 }), (rounds) => {
        const out = ofLimitByRound(
          rounds.map(([bare]) => round(bare)),
          rounds.map(([, variant]) => round(variant)),
          rounds.map(([, , verify]) => verify),
        );
        expect(out).toHaveLength(rounds.length);
        rounds.forEach(([bare, variant, verify], i) => {
          const limit = bare / (bare + verify);
          expect(out[i]).toBeCloseTo(bare / variant / limit, 9);
        });
      }),
    );
  });
});
