import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { choiceFlag, integerFlag, listFlag, trustFlag } from '../../server/cli/flag-values.js';
import { UsageError } from '../../server/cli/usage-error.js';

/** Whatever a user types, a flag reader answers a valid value or a UsageError — never anything else. */
const outcome = (read: () => unknown): unknown => {
  try {
    return read();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return 'usage-error';
  }
};

describe('flag readers', () => {
  it('integerFlag: a whole number inside the range, else UsageError naming the flag', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('08', '1e3', ' 5', '0x10', '-0', '65536')), (raw) => {
        const value = outcome(() => integerFlag({ port: raw }, 'port', 0, 65_535));
        if (value !== 'usage-error') {
          expect(Number.isInteger(value)).toBe(true);
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(65_535);
          expect(String(value)).toBe(raw.replace(/^0+(?=\d)/, ''));
        }
      }),
    );
    expect(() => integerFlag({ port: '-1' }, 'port', 0, 10)).toThrow('--port must be a whole number from 0 to 10');
  });

  it('listFlag: repeated and comma-separated values, trimmed, empties dropped', () => {
    expect(listFlag({ origin: ['a, b', 'c', ' ,'] }, 'origin')).toEqual(['a', 'b', 'c']);
    expect(listFlag({}, 'origin')).toBeUndefined();
    expect(() => listFlag({ origin: [' , '] }, 'origin')).toThrow('--origin needs a value');
    fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), (values) => void outcome(() => listFlag({ x: values }, 'x'))));
  });

  it('choiceFlag and trustFlag: anything outside the choices or not a CIDR is a UsageError', () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const choice = outcome(() => choiceFlag({ m: raw }, 'm', ['reject', 'flag'] as const));
        expect(choice).toBe(raw === 'reject' || raw === 'flag' ? raw : 'usage-error');
        void outcome(() => trustFlag([raw], 'trusted-proxies'));
      }),
    );
    expect(() => trustFlag(['10.0.0.0/8', 'nope'], 'trusted-proxies')).toThrow(new UsageError('--trusted-proxies: invalid address in "nope"'));
  });
});
