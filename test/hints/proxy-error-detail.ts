import { expect } from 'vitest';
import { ProxyProtocolError } from '../../server/hints/proxy-protocol.js';

/** The `detail` of the ProxyProtocolError that `fn` throws; fails on any other outcome. */
export function detailOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyProtocolError);
    expect((error as ProxyProtocolError).code).toBe('ERR_IPSTAMP_PROXY_PROTOCOL');
    return (error as ProxyProtocolError).detail;
  }
  throw new Error('expected a ProxyProtocolError');
}
