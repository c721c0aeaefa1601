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
