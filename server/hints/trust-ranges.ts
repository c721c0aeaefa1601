import { canonicalAddress, formatIPv6, parseIPv4, parseIPv6 } from '../../shared/address.js';
import { quotedExcerpt } from '../../shared/printable.js';

/** Names users expect beside explicit CIDRs (as in proxy-addr). */
export const TRUST_PRESETS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['fc00::/7'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const TRUST_CACHE_SIZE = 4096;

/** Longer than any CIDR (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128` is 49). */
const MAX_QUOTED_ENTRY = 64;

/**
 * An entry as an error quotes it: JSON-quoted, controls escaped, cut. The entries are not
 * always the operator's own text: a fetched key set's `allowed_ips` is whatever that server
 * sent, and its error is printed on stderr and logged.
 */
const quotedEntry = (cidr: string): string => quotedExcerpt(cidr, MAX_QUOTED_ENTRY);

/**
 * A set of address ranges, the shape of node:net's BlockList: Node compiles trust into one,
 * the web into cidr-list.ts's pure-JavaScript twin (test/hints/cidr-list.property.test.ts
 * proves they answer alike).
 */
export interface RangeList {
  addSubnet(network: string, prefix: number, family: 'ipv4' | 'ipv6'): void;
  check(address: string, family: 'ipv4' | 'ipv6'): boolean;
}

export interface TrustMatcher {
  /** True when the canonical address is inside a trusted range. */
  contains(address: string): boolean;
  readonly ranges: readonly string[];
}

/** An address, as units of `unitBits` bits (IPv4's octets, IPv6's groups), with every bit past the first `prefix` cleared. */
function firstAddressOf(units: readonly number[], unitBits: number, prefix: number): number[] {
  return units.map((unit, i) => unit & ~((1 << (unitBits - Math.min(Math.max(prefix - i * unitBits, 0), unitBits))) - 1));
}

/**
 * `10.0.0.1/8` is most often a typo for one address (`/32`), and would trust all of
 * `10.0.0.0/8`: refused rather than read either way, naming both readings. Undefined when the
 * range is written from its first address.
 */
function hostBitsError(option: string, cidr: string, units: readonly number[], prefix: number, family: 'ipv4' | 'ipv6'): TypeError | undefined {
  const first = firstAddressOf(units, family === 'ipv4' ? 8 : 16, prefix);
  if (first.every((unit, i) => unit === units[i])) return undefined;
  const v6 = family === 'ipv6' ? formatIPv6(first) : undefined;
  // a mapped range as it was written: ::ffff:10.0.0.0/104, not ::ffff:a00:0/104
  const mapped = v6 === undefined ? undefined : canonicalAddress(v6);
  const range = v6 === undefined ? first.join('.') : mapped !== undefined && !mapped.includes(':') ? `::ffff:${mapped}` : v6;
  const one = family === 'ipv4' ? 32 : 128;
  return new TypeError(
    `${option}: ${quotedEntry(cidr)} has bits set past its /${prefix} prefix: write ${range}/${prefix} for the range, or /${one} for the one address`,
  );
}

function notRanges(option: string): never {
  throw new TypeError(`${option} must be a CIDR, a preset, or an array of them`);
}

/**
 * Compiles CIDRs and presets once into a range list (`BlockList` on Node). Addresses are compared in canonical
 * form, where IPv4-mapped IPv6 is IPv4: so a mapped range `::ffff:10.0.0.0/104` is entered
 * as `10.0.0.0/8` — never as a prefix that would cover every IPv4 address.
 * Throws TypeError naming `option` for anything it cannot read.
 */
export function compileTrustRanges(spec: string | readonly string[] | undefined, option: string, newRangeList: () => RangeList): TrustMatcher {
  const entries: readonly unknown[] = spec === undefined ? [] : typeof spec === 'string' ? spec.split(',') : Array.isArray(spec) ? spec : notRanges(option);
  const list = newRangeList();
  const ranges: string[] = [];
  const add = (cidr: string): void => {
    const slash = cidr.indexOf('/');
    const addrText = slash === -1 ? cidr : cidr.slice(0, slash);
    const prefixText = slash === -1 ? undefined : cidr.slice(slash + 1);
    const isV6 = addrText.includes(':');
    const max = isV6 ? 128 : 32;
    const prefix = prefixText === undefined ? max : /^(?:0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) throw new TypeError(`${option}: invalid CIDR prefix in ${quotedEntry(cidr)}`);
    if (isV6) {
      const groups = parseIPv6(addrText);
      if (!groups) throw new TypeError(`${option}: invalid address in ${quotedEntry(cidr)}`);
      const mappedPrefix = groups.slice(0, 6).every((g, i) => (i === 5 ? g === 0xffff : g === 0));
      const hostBits = hostBitsError(option, cidr, groups, prefix, 'ipv6');
      if (hostBits) throw hostBits;
      if (mappedPrefix && prefix >= 96) {
        const v4 = canonicalAddress(addrText) ?? '0.0.0.0';
        list.addSubnet(v4, prefix - 96, 'ipv4');
        ranges.push(`${v4}/${prefix - 96}`);
        return;
      }
      list.addSubnet(addrText, prefix, 'ipv6');
      ranges.push(`${addrText}/${prefix}`);
      // a v6 range wide enough to hold all of ::ffff:0:0/96 holds all of IPv4 too
      if (prefix < 96) {
        const probe = newRangeList();
        probe.addSubnet(addrText, prefix, 'ipv6');
        if (probe.check('::ffff:0:0', 'ipv6')) {
          list.addSubnet('0.0.0.0', 0, 'ipv4');
          ranges.push('0.0.0.0/0');
        }
      }
    } else {
      const octets = parseIPv4(addrText);
      if (!octets) throw new TypeError(`${option}: invalid address in ${quotedEntry(cidr)}`);
      const hostBits = hostBitsError(option, cidr, octets, prefix, 'ipv4');
      if (hostBits) throw hostBits;
      list.addSubnet(addrText, prefix, 'ipv4');
      ranges.push(`${addrText}/${prefix}`);
    }
  };
  // for…of, not forEach: a hole is an entry too (undefined), refused like any non-string
  for (const raw of entries) {
    if (typeof raw !== 'string') notRanges(option);
    const entry = raw.trim();
    if (entry === '') continue;
    // own names only: `constructor` or `__proto__` is an invalid entry, not Object.prototype's
    const preset = Object.hasOwn(TRUST_PRESETS, entry) ? TRUST_PRESETS[entry] : undefined;
    if (preset) preset.forEach(add);
    else add(entry);
  }
  if (ranges.length === 0) return { ranges, contains: () => false };
  // BlockList.check costs over a microsecond; the same few peers and proxies ask again and
  // again. Bounded: when full it starts over, so hostile addresses cost speed, never memory.
  const seen = new Map<string, boolean>();
  return {
    ranges,
    contains(address: string): boolean {
      let trusted = seen.get(address);
      if (trusted === undefined) {
        trusted = list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
        if (seen.size >= TRUST_CACHE_SIZE) seen.clear();
        seen.set(address, trusted);
      }
      return trusted;
    },
  };
}
