import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTrust } from '../../server/hints/trust.js';

describe('compileTrust', () => {
  it.each([
    ['loopback', ['127.0.0.1', '127.255.0.9', '::1'], ['128.0.0.1', '::2']],
    ['private', ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fd12::1'], ['172.32.0.1', '192.169.0.1', '11.0.0.1', 'fe80::1']],
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

  it.each(['10.0.0.0/33', '10.0.0.0/08', '010.0.0.0/8', 'lan', '::1/129', '2001:db8::/-1', '10.0.0.0/'])(
    'refuses %j with a TypeError naming the option',
    (cidr) => {
      expect(() => compileTrust([cidr], 'trustedProxies')).toThrow(/trustedProxies/);
    },
  );

  it('a mapped range and its IPv4 range agree on every address', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (base, prefix, probe) => {
        expect(compileTrust([`::ffff:${base}/${96 + prefix}`]).contains(probe)).toBe(compileTrust([`${base}/${prefix}`]).contains(probe));
      }),
      { numRuns: 300 },
    );
  });
});
