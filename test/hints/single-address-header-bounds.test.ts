import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forwardingHeaderReader, parseSingleAddressHeader } from '../../server/hints/forwarding-header.js';

/**
 * A single-address header (x-real-ip, cf-connecting-ip, …) longer than the byte cap is one
 * invalid entry (PROTOCOL §4.3: the work on hostile headers is bounded), even when trimming
 * spaces or dropping a zone id would leave a valid address.
 */
describe('single-address header: an over-long value is one invalid entry', () => {
  it('padding that trims down to an address does not get past the cap', () => {
    expect(parseSingleAddressHeader([`${' '.repeat(9000)}192.0.2.7`])).toEqual([undefined]);
    expect(parseSingleAddressHeader([`fe80::1%${'z'.repeat(9000)}`])).toEqual([undefined]);
    const reader = forwardingHeaderReader('x-real-ip', { maxBytes: 16 });
    expect(reader(['  192.0.2.7     '])).toEqual(['192.0.2.7']); // 16 characters: inside the cap
    expect(reader(['  192.0.2.7      '])).toEqual([undefined]); // 17: over it
  });

  it('for any cap and padding: the address iff the whole value fits the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 512 }), fc.nat(600), fc.nat(600), (maxBytes, left, right) => {
        const value = `${' '.repeat(left)}198.51.100.4${'\t'.repeat(right)}`;
        const expected = value.length <= maxBytes ? '198.51.100.4' : undefined;
        expect(parseSingleAddressHeader([value], { maxEntries: 32, maxBytes })).toEqual([expected]);
      }),
      { numRuns: 300 },
    );
  });
});
