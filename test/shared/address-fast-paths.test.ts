import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalAddress, canonicalFromGroups, isStrictIPv4, parseIPv4 } from '../../shared/address.js';

const digitsAndDots = fc.string({ unit: fc.constantFrom(...'0123456789.'.split('')), maxLength: 18 });

describe('the allocation-free fast paths agree with the full parsers', () => {
  it('isStrictIPv4 ≡ parseIPv4 accepts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), digitsAndDots, fc.string({ maxLength: 20 })), (text) => {
        expect(isStrictIPv4(text)).toBe(parseIPv4(text) !== undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it.each(['1.2.3.4', '255.255.255.255', '0.0.0.0'])('%s is strict', (text) => expect(isStrictIPv4(text)).toBe(true));
  it.each(['01.2.3.4', '1.2.3', '1.2.3.4.', '.1.2.3.4', '256.1.1.1', '1.2.3.4 ', '1..2.3', '1000.1.1.1', ''])('%j is not', (text) =>
    expect(isStrictIPv4(text)).toBe(false),
  );

  it('canonicalFromGroups ≡ canonicalAddress of the same address', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        expect(canonicalFromGroups(groups)).toBe(canonicalAddress(groups.map((g) => g.toString(16)).join(':')));
      }),
      { numRuns: 2000 },
    );
  });
});
