import { parseIPv4, parseIPv6 } from '../../shared/address.js';
import type { RangeList } from './trust-ranges.js';

/**
 * A pure-JavaScript range list with node:net BlockList's answers, for runtimes without
 * node:net (ipstamp/web). Every range and address lives in IPv6 space as four 32-bit words,
 * IPv4 as IPv4-mapped (`::ffff:a.b.c.d`), so — as in BlockList — an IPv4 range holds the
 * mapped form of its addresses and `::ffff:0:0/96` holds all of IPv4.
 * test/hints/cidr-list.property.test.ts holds it to BlockList.
 */
export class CidrList implements RangeList {
  // each range: network words masked to the prefix, then the prefix, five numbers a range
  readonly #ranges: number[] = [];

  addSubnet(network: string, prefix: number, family: 'ipv4' | 'ipv6'): void {
    const words = wordsOf(network, family);
    const bits = family === 'ipv4' ? prefix + 96 : prefix;
    if (words === undefined || !Number.isInteger(prefix) || prefix < 0 || bits > 128) throw new TypeError(`invalid subnet ${network}/${prefix}`);
    for (let i = 0; i < 4; i++) words[i] = (words[i]! & maskOf(bits, i)) >>> 0;
    this.#ranges.push(words[0]!, words[1]!, words[2]!, words[3]!, bits);
  }

  check(address: string, family: 'ipv4' | 'ipv6'): boolean {
    const words = wordsOf(address, family);
    if (words === undefined) return false;
    const ranges = this.#ranges;
    for (let r = 0; r < ranges.length; r += 5) {
      const bits = ranges[r + 4]!;
      let inside = true;
      for (let i = 0; i < 4 && inside; i++) inside = (words[i]! & maskOf(bits, i)) >>> 0 === ranges[r + i];
      if (inside) return true;
    }
    return false;
  }
}

/** The mask of word `i` (bits 32i … 32i+31) under a prefix of `bits`. */
function maskOf(bits: number, i: number): number {
  const within = bits - 32 * i;
  if (within >= 32) return 0xffffffff;
  if (within <= 0) return 0;
  return (0xffffffff << (32 - within)) >>> 0;
}

function wordsOf(address: string, family: 'ipv4' | 'ipv6'): number[] | undefined {
  if (family === 'ipv4') {
    const octets = parseIPv4(address);
    return octets && [0, 0, 0xffff, ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0];
  }
  const groups = parseIPv6(address);
  if (groups === undefined) return undefined;
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i]! << 16) | groups[i + 1]!) >>> 0);
  return words;
}
