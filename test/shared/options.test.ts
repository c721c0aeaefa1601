import { describe, expect, it } from 'vitest';
import { rejectUnknownOptions } from '../../shared/options.js';

const NAMES = Object.freeze({ trustedProxies: true, onMismatch: true, maxAge: true, now: true, ip: true } as const);

describe('rejectUnknownOptions: a key that is no option is a TypeError naming it', () => {
  it('passes an object of known keys, and an empty one', () => {
    expect(() => rejectUnknownOptions({ trustedProxies: ['loopback'], maxAge: 30 }, NAMES)).not.toThrow();
    expect(() => rejectUnknownOptions({}, NAMES)).not.toThrow();
  });

  it('names the unknown key, whatever its value (undefined too, as zod strict objects do)', () => {
    expect(() => rejectUnknownOptions({ maxAge: 30, bogus: 1 }, NAMES)).toThrow(new TypeError('unknown option "bogus"'));
    expect(() => rejectUnknownOptions({ bogus: undefined }, NAMES)).toThrow(new TypeError('unknown option "bogus"'));
  });

  it('suggests the option a typo was meant to be', () => {
    expect(() => rejectUnknownOptions({ trustedProxy: ['10.0.0.1'] }, NAMES)).toThrow(
      new TypeError('unknown option "trustedProxy" (did you mean "trustedProxies"?)'),
    );
    expect(() => rejectUnknownOptions({ onMismach: 'flag' }, NAMES)).toThrow(new TypeError('unknown option "onMismach" (did you mean "onMismatch"?)'));
    expect(() => rejectUnknownOptions({ maxage: 30 }, NAMES)).toThrow(new TypeError('unknown option "maxage" (did you mean "maxAge"?)'));
    // nothing near: no guess; a one-letter key is no typo of a two-letter option
    expect(() => rejectUnknownOptions({ requireStamp: false }, NAMES)).toThrow(new TypeError('unknown option "requireStamp"'));
    expect(() => rejectUnknownOptions({ x: 1 }, NAMES)).toThrow(new TypeError('unknown option "x"'));
  });

  it('guesses within two edits, or a quarter of a long name, and never as many as the key has letters', () => {
    const guess = (key: string, names: Readonly<Record<string, true>> = NAMES): string => {
      try {
        rejectUnknownOptions({ [key]: 1 }, names);
      } catch (error) {
        return (error as TypeError).message;
      }
      return 'accepted';
    };
    // two insertions; two substitutions; a case-insensitive near miss spelt in capitals
    expect(guess('mxAg')).toBe('unknown option "mxAg" (did you mean "maxAge"?)');
    expect(guess('mexAgo')).toBe('unknown option "mexAgo" (did you mean "maxAge"?)');
    expect(guess('ONMISMATC')).toBe('unknown option "ONMISMATC" (did you mean "onMismatch"?)');
    // three edits: no guess for a key shorter than 12 letters, a guess for a 13-letter one; four: none
    expect(guess('maxAgeXYZ')).toBe('unknown option "maxAgeXYZ"');
    expect(guess('trustedPrxs')).toBe('unknown option "trustedPrxs"');
    expect(guess('trstdProxiesX')).toBe('unknown option "trstdProxiesX" (did you mean "trustedProxies"?)');
    expect(guess('trustedPrxyzz')).toBe('unknown option "trustedPrxyzz"');
    // a key of one or two letters is no typo of any name as many edits away
    expect(guess('i')).toBe('unknown option "i"');
    expect(guess('ab')).toBe('unknown option "ab"');
    // singular for plural: `proxy` is three edits from `proxies`, and still the same option
    expect(guess('proxy', { proxies: true })).toBe('unknown option "proxy" (did you mean "proxies"?)');
    expect(guess('maxEntry', { maxEntries: true, maxAge: true })).toBe('unknown option "maxEntry" (did you mean "maxEntries"?)');
  });

  it('names a nested object as the user wrote it', () => {
    expect(() => rejectUnknownOptions({ ttl: 5 }, { key: true, lifetime: true }, 'issuer')).toThrow(new TypeError('unknown option "issuer.ttl"'));
  });

  it("counts own keys only, and no name of Object's prototype is an option", () => {
    const inherited = Object.create({ bogus: 1 }) as object;
    expect(() => rejectUnknownOptions(inherited, NAMES)).not.toThrow();
    expect(() => rejectUnknownOptions({ constructor: 1 }, NAMES)).toThrow(new TypeError('unknown option "constructor"'));
    expect(() => rejectUnknownOptions(JSON.parse('{"__proto__": {}}') as object, NAMES)).toThrow(new TypeError('unknown option "__proto__"'));
  });
});
