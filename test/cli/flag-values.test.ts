import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { choiceFlag, integerFlag, listFlag, trustFlag } from '../../server/cli/flag-values.js';
import { parseFlags } from '../../server/cli/parse-flags.js';
import { UsageError } from '../../server/cli/usage-error.js';
import { runCli, scratchDir } from '../support/cli-process.js';

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

describe('negative numbers reach the flag reader and get its message (issue 12, item 6)', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const OPTIONS = { port: { type: 'string' }, skew: { type: 'string' }, verbose: { type: 'boolean' } } as const;

  it('parseFlags: `--port -1` is the value -1, not "argument is ambiguous"', () => {
    expect(parseFlags(['--port', '-1', '--skew', '-3'], OPTIONS).values).toMatchObject({ port: '-1', skew: '-3' });
    // a fraction too: the flag's reader says what a whole number is
    expect(parseFlags(['--skew', '-.5', '--port', '-0.5'], OPTIONS).values).toMatchObject({ skew: '-.5', port: '-0.5' });
    expect(() => integerFlag(parseFlags(['--port', '-1'], OPTIONS).values, 'port', 0, 65_535)).toThrow(
      new UsageError('--port must be a whole number from 0 to 65535, got -1'),
    );
    // a flag name after a string flag is still a missing value, and a boolean never takes one
    expect(() => parseFlags(['--port', '--verbose'], OPTIONS)).toThrow(UsageError);
    expect(() => parseFlags(['--verbose', '-1'], OPTIONS)).toThrow(UsageError);
  });

  it('parseFlags: a value starting with a dash that is not a number names the flag and the way to pass it', () => {
    expect(() => parseFlags(['--port', '-x'], OPTIONS)).toThrow(new UsageError('--port needs a value; to give one that starts with a dash, write --port=-x'));
  });

  it('the CLI answers one clear line, exit 2', async () => {
    const keys = scratch.file('keys.json', { keys: [{ kty: 'oct', k: 'A'.repeat(43), kid: 'k', alg: 'HS256' }] });
    const port = await runCli(['serve', '--keys', keys, '--port', '-1']);
    expect([port.code, port.stderr]).toEqual([2, 'ipstamp serve: --port must be a whole number from 0 to 65535, got -1\n']);
    const skew = await runCli(['inspect', 'a.b.c', '--skew', '-3']);
    expect([skew.code, skew.stderr]).toEqual([2, 'ipstamp inspect: --skew must be a whole number from 0 to 86400, got -3\n']);
  });

  it('integerFlag names what it was given, whatever it was', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (raw) => {
        try {
          integerFlag({ port: raw }, 'port', 0, 65_535);
        } catch (error) {
          expect(error).toBeInstanceOf(UsageError);
          const message = (error as Error).message;
          expect(message.startsWith('--port must be a whole number from 0 to 65535, got ')).toBe(true);
          // one line, however the value was spelled
          expect(message).not.toMatch(/[\r\n]/);
        }
      }),
    );
  });
});

describe('parseFlags on anything typed', () => {
  const OPTIONS = { port: { type: 'string' }, origin: { type: 'string', multiple: true }, verbose: { type: 'boolean' } } as const;

  it('a negative number after a string flag is its value; any argv parses or is a UsageError', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: -1 }), (n) => {
        expect(parseFlags(['--port', String(n)], OPTIONS).values.port).toBe(String(n));
        expect(parseFlags(['--origin', String(n), '--origin', 'a'], OPTIONS).values.origin).toEqual([String(n), 'a']);
      }),
    );
    const token = fc.oneof(fc.constantFrom('--port', '--origin', '--verbose', '--', '-', '-1', '--port=-2', '-x', '--bogus'), fc.string({ maxLength: 6 }));
    fc.assert(fc.property(fc.array(token, { maxLength: 8 }), (argv) => void outcome(() => parseFlags(argv, OPTIONS, true))));
  });
});
