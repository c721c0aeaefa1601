import fc from 'fast-check';
import { types } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCodeOf, IpStampError, isIpStampError, refusalError, withoutStackTrace } from '../../shared/errors.js';
import { REASONS } from '../../shared/reasons.js';
import { ReplayStoreFullError } from '../../server/stores/replay-store.js';

const FRAME = /\n\s+at /;
const original = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')!;

afterEach(() => {
  Object.defineProperty(Error, 'stackTraceLimit', original);
});

describe('errorCodeOf', () => {
  it('names every reason ERR_IPSTAMP_ and the reason in capitals, dashes as underscores', () => {
    for (const reason of REASONS) expect(errorCodeOf(reason)).toBe(`ERR_IPSTAMP_${reason.toUpperCase().replace(/-/g, '_')}`);
  });

  it('works the same out for a string that is no reason (a caller without types)', () => {
    expect(errorCodeOf('not-a-reason' as never)).toBe('ERR_IPSTAMP_NOT_A_REASON');
  });
});

describe('IpStampError', () => {
  it('is named IpStampError, says the fixed title, and keeps the cause it was given', () => {
    const cause = new RangeError('store down');
    const error = new IpStampError('store-unavailable', { cause });
    expect([error.name, error.message, error.reason, error.code, error.cause]).toEqual([
      'IpStampError',
      'Replay protection is unavailable',
      'store-unavailable',
      'ERR_IPSTAMP_STORE_UNAVAILABLE',
      cause,
    ]);
    expect(String(refusalError('replay'))).toBe('IpStampError: Client IP attestation was already used');
  });

  it('isIpStampError: true for it (and its subclasses) only, not for any other error or a look-alike', () => {
    expect(isIpStampError(new IpStampError('replay'))).toBe(true);
    expect(isIpStampError(new ReplayStoreFullError())).toBe(true);
    for (const other of [
      new Error('replay'),
      new TypeError('x'),
      { name: 'IpStampError', reason: 'replay', code: 'ERR_IPSTAMP_REPLAY' },
      'replay',
      undefined,
    ]) {
      expect(isIpStampError(other)).toBe(false);
    }
  });
});

describe('withoutStackTrace (the errors refusals carry)', () => {
  it('refusalError builds the same IpStampError for every reason, less the stack frames', () => {
    for (const reason of REASONS) {
      const plain = new IpStampError(reason);
      const bare = refusalError(reason);
      expect(bare).toBeInstanceOf(IpStampError);
      expect(types.isNativeError(bare)).toBe(true);
      expect([bare.name, bare.message, bare.reason, bare.code]).toEqual([plain.name, plain.message, plain.reason, plain.code]);
      expect(plain.stack).toMatch(FRAME);
      expect(bare.stack).not.toMatch(FRAME);
      expect(bare.stack).toContain(plain.message);
    }
    const full = withoutStackTrace(() => new ReplayStoreFullError());
    expect([full.code, full.reason, full.stack?.match(FRAME)]).toEqual(['ERR_IPSTAMP_STORE_FULL', 'store-unavailable', null]);
  });

  it('puts back whatever limit was set, also when building throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(200), fc.constant(Infinity)), fc.boolean(), (limit, throws) => {
        Error.stackTraceLimit = limit;
        const build = () => {
          if (throws) throw new TypeError('boom');
          return new IpStampError('missing');
        };
        if (throws) expect(() => withoutStackTrace(build)).toThrow('boom');
        else expect(withoutStackTrace(build).stack).not.toMatch(FRAME);
        expect(Error.stackTraceLimit).toBe(limit);
      }),
      { numRuns: 100 },
    );
  });

  it('builds with a stack, and does not throw, where the limit cannot be written or is no number', () => {
    Object.defineProperty(Error, 'stackTraceLimit', { value: 10, writable: false, configurable: true });
    expect(withoutStackTrace(() => new IpStampError('replay')).stack).toMatch(FRAME);
    expect(Error.stackTraceLimit).toBe(10);
    Object.defineProperty(Error, 'stackTraceLimit', { value: undefined, writable: true, configurable: true });
    expect(withoutStackTrace(() => new IpStampError('replay')).reason).toBe('replay');
    expect(Error.stackTraceLimit).toBeUndefined();
  });
});
