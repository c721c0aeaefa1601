import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalAddress } from '../../shared/address.js';
import { collectHints } from '../../server/hints/collect.js';
import { parseForwarded } from '../../server/hints/forwarded.js';
import { parseSingleAddressHeader, parseXForwardedFor } from '../../server/hints/forwarding-header.js';
import { compileTrust } from '../../server/hints/trust.js';

const RUNS = { numRuns: 500 };
const trust = compileTrust(['10.0.0.0/8', 'fd00::/8']);

// what a client can type into a header: the syntax characters on purpose, and anything at all
const headerish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'",;=[]\\:. \tforFOR_unknown0123456789abcdef'.split('')), maxLength: 80 }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('"', 'for="', 'for="[', '\\', 'for=1.2.3.4;for=', ','),
  fc.string({ unit: fc.constantFrom('1', '.', ',', ' '), minLength: 9000, maxLength: 12000 }),
);

const address = fc
  .oneof(fc.ipV4(), fc.ipV6())
  .map((a) => canonicalAddress(a))
  .filter((a): a is string => a !== undefined);
const client = address.filter((a) => !trust.contains(a));
const proxy = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`),
  fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, b]) => canonicalAddress(`fd00::${a.toString(16)}:${b.toString(16)}`)!),
);

/** The spellings a proxy may use for an address in a header. */
const spelled = (a: string, style: number, quote: boolean): string => {
  const v6 = a.includes(':');
  const forms = v6 ? [a, `[${a}]`, `[${a}]:8443`, a.toUpperCase()] : [a, `${a}:443`, `::ffff:${a}`, a];
  const text = forms[style % 4]!;
  return quote && text.includes(':') ? `"${text}"` : text;
};

describe('forwarding header parsers never throw and only return canonical addresses', () => {
  it.each([
    ['x-forwarded-for', parseXForwardedFor],
    ['forwarded', parseForwarded],
    ['single', parseSingleAddressHeader],
  ] as const)('%s', (_name, parse) => {
    fc.assert(
      fc.property(fc.array(headerish, { maxLength: 4 }), (values) => {
        const entries = parse(values);
        expect(entries.length).toBeLessThanOrEqual(32);
        for (const entry of entries) if (entry !== undefined) expect(canonicalAddress(entry)).toBe(entry);
      }),
      RUNS,
    );
  });
});

describe('what trusted proxies append survives any client-written prefix', () => {
  it('X-Forwarded-For', () => {
    fc.assert(
      fc.property(headerish, client, fc.array(proxy, { maxLength: 4 }), fc.nat(), fc.boolean(), (prefix, c, proxies, style, separate) => {
        const appended = [c, ...proxies].map((a) => spelled(a, style, false));
        const values = separate ? [prefix, ...appended] : [[prefix, ...appended].join(', ')];
        const entries = parseXForwardedFor(values);
        expect(entries.slice(-appended.length)).toEqual([c, ...proxies]);
        expect(collectHints({ l3: '10.9.9.9', headerValues: values, trust }).observed).toBe(c);
      }),
      RUNS,
    );
  });

  it('Forwarded, stray quotes and semicolons included', () => {
    fc.assert(
      fc.property(headerish, client, fc.array(proxy, { maxLength: 4 }), fc.nat(), fc.boolean(), (prefix, c, proxies, style, separate) => {
        const appended = [c, ...proxies].map((a, i) => `${i % 2 ? 'For' : 'for'}=${spelled(a, style, true)}${i % 3 === 1 ? ';proto=https;by=_lb' : ''}`);
        const values = separate ? [prefix, ...appended] : [[prefix, ...appended].join(', ')];
        const entries = parseForwarded(values);
        expect(entries.slice(-appended.length)).toEqual([c, ...proxies]);
        expect(collectHints({ l3: '10.9.9.9', headerValues: values, trust, forwardedHeader: 'forwarded' }).observed).toBe(c);
      }),
      RUNS,
    );
  });

  it('a client talking directly is observed as itself, whatever it sends', () => {
    fc.assert(
      fc.property(client, fc.array(headerish, { maxLength: 3 }), fc.constantFrom('x-forwarded-for', 'forwarded', 'x-real-ip'), (c, values, name) => {
        const hints = collectHints({
          l3: c,
          l4: { version: 1, command: 'PROXY', family: 'TCP4', source: { address: '192.0.2.1', port: 1 }, tlvs: { raw: [] }, length: 0 },
          headerValues: values,
          trust,
          forwardedHeader: name,
        });
        expect(hints).toEqual({ l3: c, l4: undefined, l7: [], observed: c, decidedBy: 'l3' });
      }),
      RUNS,
    );
  });
});
