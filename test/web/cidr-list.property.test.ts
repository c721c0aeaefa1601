import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CidrList } from '../../server/hints/cidr-list.js';
import { compileTrust } from '../../server/hints/trust.js';
import { webPlatform } from '../../server/verify/web-platform.js';
import { formatIPv6, parseIPv4, parseIPv6 } from '../../shared/address.js';

/**
 * The web verifier matches trusted proxies and `allowed_ips` with a pure-JavaScript range list
 * (server/hints/cidr-list.ts); Node's uses node:net's BlockList. Same ranges, same addresses,
 * same answers — IPv4, IPv6, IPv4-mapped IPv6 in both directions, prefixes at every length —
 * and the same trust matchers compiled from the same option text.
 */
const RUNS = { numRuns: 2000 };

const v4Octets = fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.nat({ max: 255 }));
const v4 = v4Octets.map((o) => o.join('.'));
const group = fc.nat({ max: 0xffff }).map((g) => g.toString(16));
const v6 = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  fc.tuple(fc.array(group, { maxLength: 3 }), fc.array(group, { maxLength: 3 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  v4.map((a) => `::ffff:${a}`),
  fc.tuple(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff })).map(([h, l]) => `::ffff:${h.toString(16)}:${l.toString(16)}`),
  fc.constantFrom('::', '::1', '2001:db8::', 'fe80::1', 'fc00::', '::ffff:0:0', '64:ff9b::1.2.3.4'),
  fc.ipV6(),
);
/** Addresses near each other, so ranges and addresses meet often. */
const near = fc.oneof(
  fc.constantFrom('10.0.0.1', '10.1.2.3', '127.0.0.1', '192.0.2.7', '::ffff:10.1.2.3', '2001:db8::7', '2001:db8:1::', '::1', '0.0.0.0'),
  v4,
  v6,
);
const range = fc.oneof(
  fc
    .tuple(
      fc.oneof(
        v4,
        near.filter((a) => !a.includes(':')),
      ),
      fc.nat({ max: 32 }),
    )
    .map(([address, prefix]) => ({ address, prefix, family: 'ipv4' as const })),
  fc
    .tuple(
      fc.oneof(
        v6,
        near.filter((a) => a.includes(':')),
      ),
      fc.nat({ max: 128 }),
    )
    .map(([address, prefix]) => ({ address, prefix, family: 'ipv6' as const })),
);
const probe = fc.oneof(near, v4, v6).map((address) => ({ address, family: address.includes(':') ? ('ipv6' as const) : ('ipv4' as const) }));

/** The first address of `address/prefix`: the bits past the prefix cleared (IPv6 written out in full). */
function firstAddress(address: string, prefix: number, family: 'ipv4' | 'ipv6'): string {
  const [units, bits] = family === 'ipv4' ? [parseIPv4(address)!, 8] : [parseIPv6(address)!, 16];
  const kept = units.map((u, i) => u & ~((1 << (bits - Math.min(Math.max(prefix - i * bits, 0), bits))) - 1));
  return family === 'ipv4' ? kept.join('.') : kept.map((g) => g.toString(16)).join(':');
}

/** The range's own address with bit `bit` flipped (counted from the left, in its family): just inside or just outside. */
function flipped(address: string, family: 'ipv4' | 'ipv6', bit: number): string {
  if (family === 'ipv4') {
    const octets = parseIPv4(address)!;
    const b = bit % 32;
    octets[b >> 3] = octets[b >> 3]! ^ (0x80 >> (b & 7));
    return octets.join('.');
  }
  const groups = parseIPv6(address)!;
  const b = bit % 128;
  groups[b >> 4] = groups[b >> 4]! ^ (0x8000 >> (b & 15));
  return formatIPv6(groups);
}

describe('CidrList answers as node:net BlockList', () => {
  it('on any ranges and any IPv4, IPv6 and IPv4-mapped addresses', () => {
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 4 }), fc.array(probe, { minLength: 1, maxLength: 8 }), (ranges, probes) => {
        const block = new BlockList();
        const list = new CidrList();
        for (const { address, prefix, family } of ranges) {
          block.addSubnet(address, prefix, family);
          list.addSubnet(address, prefix, family);
        }
        // beside the random probes, each range's own address with a bit flipped around its prefix
        const edges = ranges.flatMap(({ address, prefix, family }) =>
          [prefix - 1, prefix, prefix + 1, family === 'ipv4' ? 31 : 127].filter((b) => b >= 0).map((b) => ({ address: flipped(address, family, b), family })),
        );
        for (const { address, family } of [...probes, ...edges]) {
          expect(list.check(address, family), `${address} in ${JSON.stringify(ranges)}`).toBe(block.check(address, family));
        }
      }),
      RUNS,
    );
  });

  it('reaches both answers, across families (else the comparison proves little)', () => {
    const list = new CidrList();
    list.addSubnet('10.0.0.0', 8, 'ipv4');
    list.addSubnet('::ffff:192.0.2.0', 120, 'ipv6');
    list.addSubnet('2001:db8::', 32, 'ipv6');
    expect([
      list.check('10.9.9.9', 'ipv4'),
      list.check('::ffff:10.9.9.9', 'ipv6'),
      list.check('192.0.2.200', 'ipv4'),
      list.check('2001:db8::1', 'ipv6'),
    ]).toEqual([true, true, true, true]);
    expect([list.check('11.0.0.1', 'ipv4'), list.check('10.0.0.1', 'ipv6'), list.check('2001:db9::', 'ipv6'), list.check('not an address', 'ipv4')]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('refuses the prefixes BlockList refuses, in each family', () => {
    for (const [address, prefix, family] of [
      ['192.0.2.0', 33, 'ipv4'],
      ['192.0.2.0', 64, 'ipv4'],
      ['2001:db8::', 129, 'ipv6'],
      ['192.0.2.0', -1, 'ipv4'],
      ['192.0.2.0', 1.5, 'ipv4'],
    ] as const) {
      expect(() => new BlockList().addSubnet(address, prefix, family), `${address}/${prefix}`).toThrow();
      expect(() => new CidrList().addSubnet(address, prefix, family), `${address}/${prefix}`).toThrow(TypeError);
    }
  });

  it('compiles the same trust matchers from the same option text (presets, mapped ranges, wide IPv6)', () => {
    const spec = fc.array(
      fc.oneof(
        fc.constantFrom('loopback', 'private', 'linklocal', 'uniquelocal', '::/0', '::/1', '::ffff:10.0.0.0/104', '0.0.0.0/0', '2001:db8::/32'),
        // mostly ranges written from their first address; the rest, with bits past the prefix, are refused
        range.map(({ address, prefix, family }) => `${firstAddress(address, prefix, family)}/${prefix}`),
        range.map(({ address, prefix }) => `${address}/${prefix}`),
        range.map(({ address, prefix, family }) => `${firstAddress(address, prefix, family)}/${prefix}`),
      ),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(spec, fc.array(probe, { minLength: 1, maxLength: 8 }), (entries, probes) => {
        let node: ReturnType<typeof compileTrust> | Error;
        let web: ReturnType<typeof compileTrust> | Error;
        try {
          node = compileTrust(entries);
        } catch (error) {
          node = error as Error;
        }
        try {
          web = webPlatform.compileTrust(entries);
        } catch (error) {
          web = error as Error;
        }
        if (node instanceof Error || web instanceof Error) {
          const message = (m: unknown) => (m instanceof Error ? m.message : 'compiled');
          expect(message(web)).toBe(message(node));
          return;
        }
        expect(web.ranges).toEqual(node.ranges);
        for (const { address } of probes) expect(web.contains(address), address).toBe(node.contains(address));
      }),
      RUNS,
    );
  });
});
