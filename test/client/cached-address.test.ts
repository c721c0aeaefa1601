import { describe, expect, it } from 'vitest';
import { cachedAddress, isIpStampClientError } from '../../client/index.js';
import { IpStampClientError } from '../../client/client-error.js';

function counting(addresses: string[]) {
  let calls = 0;
  const load = async () => addresses[Math.min(calls++, addresses.length - 1)]!;
  return { load, calls: () => calls };
}

const invalid = () => new IpStampClientError('ERR_IPSTAMP_ECHO_FAILED');

describe('cachedAddress', () => {
  it('canonicalizes what it learns (IPv4-mapped → IPv4, IPv6 → RFC 5952)', async () => {
    expect(await cachedAddress('echo', async () => '::ffff:192.0.2.1', invalid, { ttlMs: 1000 }).current()).toBe('192.0.2.1');
    expect(await cachedAddress('echo', async () => '2001:DB8:0:0:0:0:0:1', invalid, { ttlMs: 1000 }).current()).toBe('2001:db8::1');
  });

  it("refuses an unspecified or invalid address with the source's own error", async () => {
    for (const bad of ['0.0.0.0', '::', '010.0.0.1', 'fe80::1%eth0', '']) {
      const error = await Promise.resolve(cachedAddress('echo', async () => bad, invalid, { ttlMs: 1000 }).current()).catch((e: unknown) => e);
      expect(isIpStampClientError(error)).toBe(true);
    }
  });

  it('invalidate(stale) drops the cache only when it still holds that address', async () => {
    const loader = counting(['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    const source = cachedAddress('echo', loader.load, invalid, { ttlMs: 60_000 });
    expect(await source.current()).toBe('192.0.2.1');
    source.invalidate('192.0.2.1');
    expect(await source.current()).toBe('192.0.2.2');
    source.invalidate('192.0.2.1'); // a late rejection of the old address: the new one stays
    expect(await source.current()).toBe('192.0.2.2');
    source.invalidate();
    expect(await source.current()).toBe('192.0.2.3');
    expect(loader.calls()).toBe(3);
  });

  it('returns the cached address synchronously within the TTL, and reloads after it', async () => {
    let now = 0;
    const loader = counting(['192.0.2.1', '192.0.2.2']);
    const source = cachedAddress('socket', loader.load, invalid, { ttlMs: 10, now: () => now });
    expect(await source.current()).toBe('192.0.2.1');
    expect(source.current()).toBe('192.0.2.1');
    now = 10;
    expect(await source.current()).toBe('192.0.2.2');
  });

  it('does not cache a failure', async () => {
    let fail = true;
    const source = cachedAddress(
      'echo',
      async () => {
        if (fail) throw new Error('down');
        return '192.0.2.1';
      },
      invalid,
      { ttlMs: 1000 },
    );
    await expect(source.current()).rejects.toThrow('down');
    fail = false;
    expect(await source.current()).toBe('192.0.2.1');
  });
});
