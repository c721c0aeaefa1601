import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalAddress, formatIPv6 } from '../../shared/address.js';
import { rateLimitKey } from '../../server/verify/rate-limit-key.js';
import type { NetworkHints, Verdict } from '../../server/verify/types.js';

/**
 * rateLimitKey: one key per IPv6 prefix, one per IPv4 address, canonical whatever the
 * spelling, never a throw on malformed input — and a verdict's ip only when the network or a
 * ticket vouches for it.
 */
const RUNS = { numRuns: 1000 };

const hintsOf = (observed: string | undefined, l3: string | undefined = observed): NetworkHints => ({
  l3,
  l4: undefined,
  proxy: undefined,
  l7: [],
  observed,
  decidedBy: observed === undefined ? undefined : 'l3',
});

const verdictOf = (ip: string, agreement: Verdict['agreement'], hints: NetworkHints, source: Verdict['source'] = 'stamp'): Verdict => ({
  ip,
  agreement,
  kid: 'k',
  alg: 'ES256',
  jti: 'j',
  iat: 0,
  source,
  replayChecked: true,
  hints,
});

const group = fc.integer({ min: 0, max: 0xffff });
/** Global unicast (2000::/3): never unspecified, never IPv4-mapped. */
const globalGroups = fc.tuple(fc.integer({ min: 0x2000, max: 0x3fff }), group, group, group, group, group, group, group);
const toBig = (groups: readonly number[]) => groups.reduce((n, g) => (n << 16n) | BigInt(g), 0n);
const masked = (groups: readonly number[], prefix: number) => {
  const bits = toBig(groups) & (((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix));
  return Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt(112 - 16 * i)) & 0xffffn));
};
const keyOf = (address: string, ipv6Prefix?: number) => rateLimitKey(hintsOf(address), ipv6Prefix === undefined ? {} : { ipv6Prefix });

describe('rateLimitKey: addresses', () => {
  it('every address in one /64 gives one key, the canonical network text with /64', () => {
    fc.assert(
      fc.property(globalGroups, group, group, group, group, (groups, a, b, c, d) => {
        const sibling = [...groups.slice(0, 4), a, b, c, d];
        const key = keyOf(formatIPv6(groups));
        expect(keyOf(formatIPv6(sibling))).toBe(key);
        expect(key).toBe(`${formatIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`);
      }),
      RUNS,
    );
  });

  it('addresses share a key exactly when their networks under the prefix are equal, for every prefix 1–128', () => {
    fc.assert(
      fc.property(globalGroups, globalGroups, fc.integer({ min: 1, max: 128 }), (x, y, prefix) => {
        const same = toBig(masked(x, prefix)) === toBig(masked(y, prefix));
        expect(keyOf(formatIPv6(x), prefix) === keyOf(formatIPv6(y), prefix)).toBe(same);
      }),
      RUNS,
    );
  });

  it('addresses in different /64s (one group of the first four changed) give different keys', () => {
    fc.assert(
      fc.property(globalGroups, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 0xffff }), (groups, at, delta) => {
        const other = [...groups];
        other[at] = (other[at]! + delta) & 0xffff;
        fc.pre(other[0]! >= 0x2000 && other[0]! <= 0x3fff);
        expect(keyOf(formatIPv6(other))).not.toBe(keyOf(formatIPv6(groups)));
      }),
      RUNS,
    );
  });

  it('the key is stable and canonical: every spelling of an address (case, zeros, brackets, port, zone) gives one key', () => {
    fc.assert(
      fc.property(globalGroups, fc.integer({ min: 1, max: 128 }), (groups, prefix) => {
        const key = keyOf(formatIPv6(groups), prefix);
        const [network, length] = key.split('/');
        expect(length).toBe(String(prefix));
        expect(canonicalAddress(network!) === network || network === '::').toBe(true);
        expect(network).toBe(formatIPv6(masked(groups, prefix)));
        const spellings = [
          groups.map((g) => g.toString(16).padStart(4, '0').toUpperCase()).join(':'),
          `[${formatIPv6(groups)}]:8080`,
          `${formatIPv6(groups)}%eth0`,
        ];
        for (const spelling of spellings) expect(keyOf(spelling, prefix)).toBe(key);
        expect(keyOf(formatIPv6(groups), prefix)).toBe(key);
      }),
      RUNS,
    );
  });

  it('IPv4 is keyed as is, whatever the prefix, and IPv4-mapped IPv6 counts as IPv4', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 128 }), (v4, prefix) => {
        fc.pre(v4 !== '0.0.0.0');
        expect(keyOf(v4, prefix)).toBe(v4);
        expect(keyOf(`::ffff:${v4}`, prefix)).toBe(v4);
        expect(keyOf(`${v4}:443`, prefix)).toBe(v4);
      }),
      RUNS,
    );
  });

  it('never throws on malformed input: any value, any hint fields, gives a string', () => {
    const field = fc.oneof(fc.string(), fc.ipV6(), fc.ipV4(), fc.anything());
    const hintsLike = fc.record({ l3: field, observed: field }, { requiredKeys: [] });
    const source = fc.oneof(
      fc.anything(),
      hintsLike,
      fc.record({
        agreement: fc.oneof(fc.constantFrom('match', 'mismatch', 'unverifiable'), fc.anything()),
        ip: field,
        hints: fc.oneof(hintsLike, fc.anything()),
        source: fc.anything(),
      }),
      fc.record({ ok: fc.anything(), verdict: fc.anything(), hints: fc.oneof(hintsLike, fc.anything()) }),
    );
    fc.assert(
      fc.property(source, (value) => {
        const key = rateLimitKey(value as never);
        expect(typeof key).toBe('string');
        expect(key === 'unknown' || canonicalAddress(key.split('/')[0]!) !== undefined || key.startsWith('::/')).toBe(true);
      }),
      RUNS,
    );
  });

  it('unknown, unspecified or unparseable addresses share the key "unknown"', () => {
    for (const bad of [undefined, '', '0.0.0.0', '::', 'unknown', '010.0.0.1', '1.2.3.4.5', 'x'.repeat(1000)]) {
      expect(rateLimitKey(hintsOf(bad))).toBe('unknown');
    }
    expect(rateLimitKey(null)).toBe('unknown');
    expect(rateLimitKey(undefined)).toBe('unknown');
  });

  it('a prefix outside 1–128 is a TypeError naming ipv6Prefix', () => {
    for (const ipv6Prefix of [0, 129, 64.5, Number.NaN, '64' as unknown as number]) {
      expect(() => rateLimitKey(hintsOf('2001:db8::1'), { ipv6Prefix })).toThrow(TypeError);
      expect(() => rateLimitKey(hintsOf('2001:db8::1'), { ipv6Prefix })).toThrow(/ipv6Prefix/);
    }
  });

  it('a misspelt option is a TypeError naming it, not the default /64 kept silently', () => {
    expect(() => rateLimitKey(hintsOf('2001:db8::1'), { ipv6prefix: 48 } as never)).toThrow(
      new TypeError('unknown option "ipv6prefix" (did you mean "ipv6Prefix"?)'),
    );
  });
});

describe('rateLimitKey: which address counts', () => {
  const peer = '2001:db8:aaaa:1::9';
  const claimed = '2001:db8:bbbb:2::1';

  it('a verdict the network confirmed (match): its ip', () => {
    expect(rateLimitKey(verdictOf(claimed, 'match', hintsOf(claimed, peer)))).toBe('2001:db8:bbbb:2::/64');
  });

  it('a flagged mismatch: the observed address, never the address the key holder claimed', () => {
    expect(rateLimitKey(verdictOf(claimed, 'mismatch', hintsOf(peer)))).toBe('2001:db8:aaaa:1::/64');
  });

  it('an unverifiable stamp: the TCP peer (no observed address), never the claim', () => {
    expect(rateLimitKey(verdictOf(claimed, 'unverifiable', hintsOf(undefined, '10.0.0.1')))).toBe('10.0.0.1');
  });

  it('an unverifiable ticket: its ip, which the issuer observed at the edge', () => {
    expect(rateLimitKey(verdictOf(claimed, 'unverifiable', hintsOf(undefined, '10.0.0.1'), 'ticket'))).toBe('2001:db8:bbbb:2::/64');
  });

  it('a verify result: its verdict, else (unstamped, or refused) its hints', () => {
    const hints = hintsOf(peer);
    expect(rateLimitKey({ ok: true, verdict: verdictOf(claimed, 'match', hintsOf(claimed)), hints })).toBe('2001:db8:bbbb:2::/64');
    expect(rateLimitKey({ ok: true, verdict: null, hints })).toBe('2001:db8:aaaa:1::/64');
    expect(rateLimitKey({ ok: false, reason: 'ip-mismatch', status: 403, error: undefined as never, hints })).toBe('2001:db8:aaaa:1::/64');
  });

  it('hints alone: observed, else the TCP peer', () => {
    expect(rateLimitKey(hintsOf('198.51.100.7', '127.0.0.1'))).toBe('198.51.100.7');
    expect(rateLimitKey(hintsOf(undefined, '::ffff:127.0.0.1'))).toBe('127.0.0.1');
    expect(rateLimitKey(hintsOf(peer), { ipv6Prefix: 48 })).toBe('2001:db8:aaaa::/48');
    expect(rateLimitKey(hintsOf(peer), { ipv6Prefix: 128 })).toBe('2001:db8:aaaa:1::9/128');
  });
});
