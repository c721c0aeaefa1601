import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseProxyHeader, ProxyHeaderParser } from '../../server/hints/proxy-protocol.js';
import { detailOf } from './proxy-error-detail.js';
import { buildV2, inetAddress, tlv } from './proxy-v2-builder.js';

// A TCP4 header of exactly `total` bytes (16 fixed + 12 address + one NOOP TLV padding the rest).
const sized = (total: number) => buildV2({ address: inetAddress([192, 0, 2, 1], [10, 0, 0, 1], 40000, 8080), tlvs: [tlv(0x04, Buffer.alloc(total - 28 - 3))] });

// Feeds the header in chunks of `chunk` bytes, as a socket would.
function incremental(bytes: Buffer, cap: number, chunk: number): 'done' | string {
  const parser = new ProxyHeaderParser({ maxHeaderBytes: cap });
  try {
    for (let at = 0; at < bytes.length; at += chunk) {
      const step = parser.push(bytes.subarray(at, at + chunk));
      if (step.state === 'done') return 'done';
      if (step.state === 'not-proxy') return 'not-proxy';
    }
    return 'need-more';
  } catch (error) {
    return (error as { detail?: string }).detail ?? 'other';
  }
}

describe('PROXY v2 maxHeaderBytes is an exact cap (§4.2 size limits)', () => {
  it('a header of cap bytes is read; one byte more is v2-too-long', () => {
    for (const cap of [232, 2048, 4096]) {
      expect(parseProxyHeader(sized(cap), cap).length).toBe(cap);
      expect(detailOf(() => parseProxyHeader(sized(cap + 1), cap))).toBe('v2-too-long');
    }
  });

  it('the cap itself is an integer from 232 (a UNIX header fits) to 65,551 (the spec maximum)', () => {
    for (const cap of [232, 65551]) expect(() => new ProxyHeaderParser({ maxHeaderBytes: cap })).not.toThrow();
    expect(parseProxyHeader(sized(16 + 0xffff), 16 + 0xffff).length).toBe(16 + 0xffff);
    for (const cap of [231, 65552, 300.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new ProxyHeaderParser({ maxHeaderBytes: cap }), String(cap)).toThrow(new TypeError('maxHeaderBytes must be an integer from 232 to 65551'));
    }
  });

  it('for every cap and size: accepted iff size ≤ cap, whole or in chunks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 232, max: 6000 }), fc.integer({ min: -3, max: 3 }), fc.integer({ min: 1, max: 300 }), (cap, delta, chunk) => {
        const total = cap + delta;
        const bytes = sized(total);
        const expected = total <= cap ? 'done' : 'v2-too-long';
        expect(incremental(bytes, cap, chunk)).toBe(expected);
        if (total <= cap) expect(parseProxyHeader(bytes, cap).length).toBe(total);
        else expect(detailOf(() => parseProxyHeader(bytes, cap))).toBe('v2-too-long');
      }),
      { numRuns: 300 },
    );
  });
});
