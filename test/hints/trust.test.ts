import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTrust } from '../../server/hints/trust.js';

describe('compileTrust', () => {
  it.each([
    ['loopback', ['127.0.0.1', '127.255.0.9', '127.0.0.0', '::1'], ['128.0.0.1', '126.255.255.255', '::2']],
    [
      'private',
      ['10.1.2.3', '172.16.0.1', '172.16.0.0', '172.31.255.255', '192.168.1.1', 'fd12::1'],
      ['172.32.0.1', '172.15.255.255', '192.169.0.1', '11.0.0.1', 'fe80::1'],
    ],
    ['linklocal', ['169.254.1.1', 'fe80::1'], ['169.255.0.1', 'fec0::1']],
    ['uniquelocal', ['fc00::1', 'fdff::1'], ['fe00::1', '10.0.0.1']],
  ])('preset %s', (preset, inside, outside) => {
    const trust = compileTrust([preset]);
    for (const a of inside) expect(trust.contains(a), a).toBe(true);
    for (const a of outside) expect(trust.contains(a), a).toBe(false);
  });

  it('a mapped range trusts the IPv4 addresses it maps, and only those', () => {
    const trust = compileTrust(['::ffff:10.0.0.0/104']);
    expect(trust.contains('10.1.2.3')).toBe(true);
    expect(trust.contains('11.0.0.1')).toBe(false);
    expect(compileTrust(['::ffff:0:0/96']).contains('203.0.113.9')).toBe(true);
    expect(compileTrust(['::/0']).contains('203.0.113.9')).toBe(true);
    expect(compileTrust(['2001:db8::/32']).contains('203.0.113.9')).toBe(false);
  });

  it('reads comma-separated text and mixes presets with CIDRs', () => {
    const trust = compileTrust('loopback, 203.0.113.0/24');
    expect(trust.contains('203.0.113.200')).toBe(true);
    expect(trust.contains('127.0.0.1')).toBe(true);
    expect(trust.contains('198.51.100.1')).toBe(false);
    expect(compileTrust(undefined).contains('127.0.0.1')).toBe(false);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/08', '010.0.0.0/8', 'lan', '::1/129', '2001:db8::/-1', '10.0.0.0/', 'constructor', '__proto__', 'toString'])(
    'refuses %j with a TypeError naming the option',
    (cidr) => {
      expect(() => compileTrust([cidr], 'trustedProxies')).toThrow(/trustedProxies/);
    },
  );

  it('skips empty entries: a trailing comma or a blank item is no error and trusts nothing', () => {
    expect(compileTrust('loopback,').ranges).toEqual(compileTrust('loopback').ranges);
    expect(compileTrust(['', ' ', 'loopback', '\t']).ranges).toEqual(compileTrust('loopback').ranges);
    const none = compileTrust(' , ');
    expect(none.ranges).toEqual([]);
    expect(none.contains('127.0.0.1')).toBe(false);
  });

  it('reports the ranges it trusts as compiled: mapped ranges as IPv4, IPv4 covered by a wide IPv6 range', () => {
    expect(compileTrust(['loopback', '::ffff:10.0.0.0/104', '::ffff:0:0/96', '2001:db8::/32', '::/0']).ranges).toEqual([
      '127.0.0.0/8',
      '::1/128',
      '10.0.0.0/8',
      '0.0.0.0/0',
      '2001:db8::/32',
      '::/0',
      '0.0.0.0/0',
    ]);
  });

  it('a mapped range at the bottom of IPv4 is the bottom of IPv4', () => {
    const trust = compileTrust(['::ffff:0.0.0.0/100']);
    expect(trust.ranges).toEqual(['0.0.0.0/4']);
    expect(['15.255.255.255', '0.0.0.1'].map((a) => trust.contains(a))).toEqual([true, true]);
    expect(['16.0.0.0', '240.0.0.1', '255.255.255.255'].map((a) => trust.contains(a))).toEqual([false, false, false]);
  });

  it('judges an IPv4-mapped address as the IPv4 address it maps (PROTOCOL §3)', () => {
    const trust = compileTrust(['10.0.0.0/8']);
    expect(trust.contains('::ffff:10.1.2.3')).toBe(true);
    expect(trust.contains('::ffff:203.0.113.9')).toBe(false);
    expect(trust.contains('::ffff:203.0.113.9')).toBe(false); // asked again: the memo answers alike
  });

  it('a range written with bits past its prefix is refused, naming the range and the one address it may have meant', () => {
    expect(() => compileTrust(['10.0.0.1/8'])).toThrow(
      '"10.0.0.1/8" has bits set past its /8 prefix: write 10.0.0.0/8 for the range, or /32 for the one address',
    );
    expect(() => compileTrust(['192.168.1.129/25'])).toThrow('write 192.168.1.128/25 for the range');
    expect(() => compileTrust(['1.2.3.4/0'])).toThrow('write 0.0.0.0/0 for the range');
    expect(() => compileTrust(['2001:db8::1/32'])).toThrow(
      '"2001:db8::1/32" has bits set past its /32 prefix: write 2001:db8::/32 for the range, or /128 for the one address',
    );
    expect(() => compileTrust(['fe80::1/10'])).toThrow('write fe80::/10 for the range');
    expect(() => compileTrust(['::ffff:10.0.0.1/104'])).toThrow(
      '"::ffff:10.0.0.1/104" has bits set past its /104 prefix: write ::ffff:10.0.0.0/104 for the range',
    );
    expect(() => compileTrust('10.0.0.0/8, 172.16.0.1/12')).toThrow('"172.16.0.1/12"');
    // the first address of the range, and any single address, as before
    for (const ok of [
      '10.0.0.0/8',
      '192.168.1.128/25',
      '10.0.0.1',
      '10.0.0.1/32',
      '2001:db8::/32',
      '2001:db8::1',
      '::ffff:10.0.0.0/104',
      '0.0.0.0/0',
      '::/0',
      'fe80::/10',
    ]) {
      expect(() => compileTrust([ok]), ok).not.toThrow();
    }
  });

  it('an address with any bit past its prefix is refused; its first address is taken, and holds the address (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (address, prefix) => {
        const value = address.split('.').reduce((n, o) => n * 256 + Number(o), 0);
        const size = 2 ** (32 - prefix);
        const first = value - (value % size);
        const text = [24, 16, 8, 0].map((s) => Math.floor(first / 2 ** s) % 256).join('.');
        if (first === value) expect(compileTrust([`${address}/${prefix}`]).contains(address)).toBe(true);
        else expect(() => compileTrust([`${address}/${prefix}`])).toThrow(`write ${text}/${prefix} for the range`);
        expect(compileTrust([`${text}/${prefix}`]).contains(address)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('a mapped range and its IPv4 range agree on every address', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (address, prefix, probe) => {
        // the range's first address: one with bits past the prefix is refused (below)
        const base = address
          .split('.')
          .map((o, i) => Number(o) & ((0xff << (8 - Math.min(Math.max(prefix - i * 8, 0), 8))) & 0xff))
          .join('.');
        expect(compileTrust([`::ffff:${base}/${96 + prefix}`]).contains(probe)).toBe(compileTrust([`${base}/${prefix}`]).contains(probe));
      }),
      { numRuns: 300 },
    );
  });
});
