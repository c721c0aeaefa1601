import fc from 'fast-check';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { canonicalAddress, hintAddress, isCanonicalClaimAddress, sameAddress } from '../../shared/address.js';

describe('canonicalAddress (PROTOCOL §3)', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:192.0.2.1', '192.0.2.1'], // IPv4-mapped is IPv4
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:192.0.2.1', '192.0.2.1'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
  ])('%s → %s', (input, canonical) => {
    expect(canonicalAddress(input)).toBe(canonical);
  });

  it.each([
    '010.0.0.1', // leading zero: invalid, not octal
    '1.2.3.04',
    '256.1.1.1',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '0x7f.0.0.1',
    '0.0.0.0', // unspecified: never valid
    '::',
    '::ffff:0.0.0.0',
    '0:0:0:0:0:0:0:0',
    '2001:db8::1::1',
    '2001:db8:::1',
    '12345::1',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    'fe80::1%eth0', // zone ids are invalid in claims
    '[::1]',
    '192.0.2.1:80',
    '',
    'localhost',
    '::ffff:1.2.3.04',
    '::ffff:256.1.2.3', // an octet over 255 in a dotted tail
    '2001:db8::1.2.3.256',
    '1:2:3:4::5:6:7:8', // `::` stands for at least one zero group
    '::1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8::',
    '1:2:3:4:5::6:1.2.3.4',
  ])('%j is invalid', (input) => {
    expect(canonicalAddress(input)).toBeUndefined();
  });

  it('agrees with node:net isIP on what is an address, for random v4/v6 text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const canonical = canonicalAddress(text);
        const unspecified = /^(0\.0\.0\.0|(0*:)+0*|::|::ffff:0\.0\.0\.0)$/i.test(text);
        if (isIP(text) === 0 || unspecified) return; // fast-check also makes forms outside our strict grammar
        expect(canonical).toBeDefined();
        // canonical text is a fixed point and still the same address
        expect(canonicalAddress(canonical!)).toBe(canonical);
        expect(isIP(canonical!)).not.toBe(0);
      }),
    );
  });

  it('canonical IPv6 text matches what node prints for the same address', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const canonical = canonicalAddress(text);
        if (canonical === undefined || !canonical.includes(':')) return;
        const viaUrl = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        // WHATWG URL serializes IPv6 per RFC 5952 as well, except it writes mapped addresses in hex
        expect(canonical).toBe(viaUrl);
      }),
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => void canonicalAddress(s)));
  });
});

describe('hintAddress (PROTOCOL §4)', () => {
  it.each([
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['192.0.2.1:5000', '192.0.2.1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[fe80::1%25eth0]:80', 'fe80::1'],
    ['::ffff:127.0.0.5', '127.0.0.5'],
    ['2001:db8::1', '2001:db8::1'],
    ['192.0.2.1:65535', '192.0.2.1'],
    ['192.0.2.1:0', '192.0.2.1'],
    ['[2001:db8::1]:65535', '2001:db8::1'],
  ])('%s → %s', (input, address) => {
    expect(hintAddress(input)).toBe(address);
  });

  it.each([
    '[192.0.2.1]',
    '[2001:db8::1]:99999',
    '192.0.2.1:',
    '192.0.2.1:080',
    '[::1',
    'unknown',
    '_hidden',
    '0.0.0.0:80',
    '[::]:443',
    '%eth0',
    'fe80::1%',
    '192.0.2.1:65536',
    '[2001:db8::1]:65536',
    '192.0.2.1%eth0',
    '[192.0.2.1%eth0]',
  ])('%j is not an address', (input) => {
    expect(hintAddress(input)).toBeUndefined();
  });
});

describe('comparison', () => {
  it('IPv4-mapped IPv6 equals IPv4 everywhere', () => {
    expect(sameAddress('::ffff:192.0.2.1', '192.0.2.1')).toBe(true);
    expect(sameAddress('2001:db8::1', '2001:DB8:0::1')).toBe(true);
    expect(sameAddress('192.0.2.1', '192.0.2.2')).toBe(false);
    expect(sameAddress('garbage', 'garbage')).toBe(false);
  });

  it('a claim must already be canonical', () => {
    expect(isCanonicalClaimAddress('192.0.2.1')).toBe(true);
    expect(isCanonicalClaimAddress('::ffff:192.0.2.1')).toBe(false);
    expect(isCanonicalClaimAddress('2001:DB8::1')).toBe(false);
    expect(isCanonicalClaimAddress('2001:db8::1')).toBe(true);
  });
});
