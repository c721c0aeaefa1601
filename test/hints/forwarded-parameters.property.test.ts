import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hintAddress } from '../../shared/address.js';
import { forwardedForOf, forwardedProtoOf, parseForwarded } from '../../server/hints/forwarded.js';

/**
 * Review 36, F2: an element's extension parameters were checked for duplicates against every
 * earlier one (an array's includes), O(n^2) — ~1,600 of them fit the default 8 KB and cost
 * milliseconds before any stamp was checked. They are kept in a Set now. The reference below is
 * the parse as it was (and as PROTOCOL.md §4.3.1 words it), written plainly, duplicates found in
 * an array; the parser must answer as it does for any element.
 */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A token value; `:` `[` `]` tolerated, for proxies that forget to quote `[v6]:port`. */
const TOKEN_VALUE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:[\]]+$/;
/** A quoted string: qdtext (HTAB, SP, VCHAR but `"` and `\`, obs-text) or a quoted-pair. */
const QUOTED = /^"((?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)"$/;

function referenceValue(value: string): string | undefined {
  if (!value.startsWith('"')) return TOKEN_VALUE.test(value) ? value : undefined;
  const quoted = QUOTED.exec(value);
  return quoted === null ? undefined : quoted[1]!.replace(/\\([\s\S])/g, '$1');
}

function referenceParameter(element: string, wanted: 'for' | 'proto'): string | undefined {
  const names: string[] = [];
  let found: string | undefined;
  for (const raw of element.split(';')) {
    const pair = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (pair === '') continue; // empty pairs are allowed: `for=x;;by=y`
    const eq = pair.indexOf('=');
    if (eq <= 0 || !TOKEN.test(pair.slice(0, eq))) return undefined;
    const name = pair.slice(0, eq).toLowerCase();
    if (names.includes(name)) return undefined; // a parameter given twice
    names.push(name);
    const value = referenceValue(pair.slice(eq + 1));
    if (value === undefined) return undefined;
    if (name === wanted) found = value;
  }
  return found;
}

const referenceFor = (element: string): string | undefined => {
  const value = referenceParameter(element, 'for');
  return value === undefined ? undefined : hintAddress(value);
};

const NAMES = [
  'for',
  'FOR',
  'For',
  'by',
  'BY',
  'host',
  'Host',
  'proto',
  'PROTO',
  'a',
  'A',
  'b',
  'x-y',
  'X-Y',
  'ext',
  'secret',
  '_',
  'fo',
  'fore',
  'f o',
  'f"',
  '',
];
const VALUES = [
  '192.0.2.1',
  '"192.0.2.1:8080"',
  '192.0.2.1:8080',
  '"[2001:db8::1]:443"',
  '[2001:db8::1]',
  '2001:db8::1',
  'unknown',
  '_hidden',
  'https',
  '"https"',
  '"a\\"b"',
  '"a\\\\"',
  '"\\',
  '"open',
  '"a"b"',
  '"tab\there"',
  '"\u00e9"',
  '"\u0100"',
  '',
  ' x',
  'a b',
  'a,b',
  '"',
];
const SEPARATORS = [';', ' ; ', ';;', '\t;\t', '; ', ';=;'];

const pair = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...VALUES)).map(([name, value]) => `${name}=${value}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.string({ maxLength: 8 })).map(([name, value]) => `${name}=${value}`) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'"\\;= \tforxyAB:[]_\u00e9\u7f16'.split('')), maxLength: 12 }) },
);

const wellFormed = fc
  .tuple(
    fc.shuffledSubarray(['For', 'by', 'HOST', 'proto', 'ext', 'a'], { minLength: 1 }),
    fc.array(fc.constantFrom(...VALUES.slice(0, 11)), { minLength: 6, maxLength: 6 }),
    fc.constantFrom(...SEPARATORS.slice(0, 5)),
  )
  .map(([names, values, separator]) => names.map((name, i) => `${name}=${values[i]}`).join(separator));

/** Elements of well-formed and broken pairs, names repeated in either case or not at all. */
const element = fc.oneof(
  { weight: 4, arbitrary: wellFormed },
  { weight: 8, arbitrary: fc.tuple(fc.array(pair, { maxLength: 8 }), fc.array(fc.constantFrom(...SEPARATORS), { maxLength: 8 })).map(joinPairs) },
  // many extension parameters, from few enough names that some runs repeat one and some do not
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.array(fc.stringMatching(/^[a-dA-D]{1,3}$/), { maxLength: 60 }), fc.constantFrom(...VALUES.slice(0, 3)))
      .map(([names, address]) => [`for=${address}`, ...names.map((name) => `${name}=v`)].join(';')),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);

function joinPairs([pairs, separators]: [string[], string[]]): string {
  return pairs.reduce((out, p, i) => (i === 0 ? p : `${out}${separators[i % Math.max(separators.length, 1)] ?? ';'}${p}`), '');
}

// 2-character extension names, lower case only (names compare case-insensitively): 2,704 distinct
const ALPHA = "0123456789abcdefghijklmnopqrstuvwxyz!#$%&'*+-.^_`|~";
const TWO_CHAR_NAMES = [...ALPHA].flatMap((a) => [...ALPHA].map((b) => a + b));

function manyParameters(count: number): string {
  return ['for=192.0.2.1', ...TWO_CHAR_NAMES.slice(0, count).map((name) => `${name}=x`)].join(';');
}

describe('Forwarded element parameters (property)', () => {
  it('for= and proto= as the reference parse (duplicates found in an array) answers, for any element', () => {
    fc.assert(
      fc.property(element, (text) => {
        expect(forwardedForOf(text)).toBe(referenceFor(text));
        expect(forwardedProtoOf(text)).toBe(referenceParameter(text, 'proto'));
      }),
      { numRuns: 3000 },
    );
  });

  it('the reference is not vacuous: the generated elements give addresses, protos and refusals', () => {
    const sample = fc.sample(element, { numRuns: 3000, seed: 36 });
    expect(sample.filter((text) => referenceFor(text) !== undefined).length).toBeGreaterThan(100);
    expect(sample.filter((text) => referenceParameter(text, 'proto') !== undefined).length).toBeGreaterThan(50);
    // refused for a parameter given twice, where the element is otherwise well formed
    const twice = sample.filter((text) => referenceFor(text) === undefined && referenceFor(text.replace(/;[a-dA-D]{1,3}=v/g, '')) !== undefined);
    expect(twice.length).toBeGreaterThan(20);
  });
});

describe('an element with 1,600 extension parameters (what the default 8 KB holds)', () => {
  it('is read whole: its for= is the address, beside the element a proxy appends', () => {
    const text = manyParameters(1600);
    expect(text.split(';')).toHaveLength(1601);
    expect(text.length).toBeLessThan(8192 - 20);
    expect(forwardedForOf(text)).toBe('192.0.2.1');
    expect(parseForwarded([`${text}, for=198.51.100.7`])).toEqual(['192.0.2.1', '198.51.100.7']);
  });

  it('is an invalid entry when its last name repeats an earlier one, in any case', () => {
    const text = `${manyParameters(1599)};${TWO_CHAR_NAMES[0]!.toUpperCase()}=y`;
    expect(forwardedForOf(text)).toBeUndefined();
    expect(parseForwarded([`${text}, for=198.51.100.7`])).toEqual([undefined, '198.51.100.7']);
    // a name from the middle of the element, and one that differs from every earlier name
    expect(forwardedForOf(`${manyParameters(1599)};${TWO_CHAR_NAMES[1234]!.toUpperCase()}=y`)).toBeUndefined();
    expect(forwardedForOf(`${manyParameters(1599)};${TWO_CHAR_NAMES[1599]!.toUpperCase()}=y`)).toBe('192.0.2.1');
  });
});
