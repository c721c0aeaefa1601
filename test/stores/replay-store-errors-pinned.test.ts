import { describe, expect, it } from 'vitest';
import { IpStampError } from '../../shared/errors.js';
import { isReplayStoreFullError, ReplayStoreFullError } from '../../server/stores/replay-store.js';

/**
 * The typed refusal of a full store. The Redis store wraps the `OOM` reply it got in one
 * (`{ cause }`), and the operator reading the log needs that cause; only redis.test.ts, which
 * needs a live redis-server, looked at it.
 */
describe('ReplayStoreFullError', () => {
  it('is a store-unavailable refusal that keeps its cause and says "full" by its code', () => {
    const cause = new Error('OOM command not allowed when used memory > maxmemory');
    const error = new ReplayStoreFullError({ cause });
    expect(error).toBeInstanceOf(IpStampError);
    expect(error.reason).toBe('store-unavailable');
    expect(error.code).toBe('ERR_IPSTAMP_STORE_FULL');
    expect(error.cause).toBe(cause);
    expect(isReplayStoreFullError(error)).toBe(true);
  });

  it('is recognised by its code alone, from a store of another package, and nothing else is', () => {
    expect(isReplayStoreFullError(Object.assign(new Error('full'), { code: 'ERR_IPSTAMP_STORE_FULL' }))).toBe(true);
    expect(isReplayStoreFullError(new IpStampError('store-unavailable'))).toBe(false);
    expect(isReplayStoreFullError(null)).toBe(false);
    expect(isReplayStoreFullError(undefined)).toBe(false);
  });
});
