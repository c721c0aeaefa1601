import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../../server/hints/proxy-protocol.js';
import { detailOf } from './proxy-error-detail.js';
import { bitwiseCrc32c, buildV2, inetAddress, tlv } from './proxy-v2-builder.js';

const address = inetAddress([192, 0, 2, 1], [10, 0, 0, 1], 40000, 8080);

/**
 * A header whose last TLV is a PP2_TYPE_CRC32C of `length` bytes, its first four bytes filled
 * with the checksum a lenient reader would compute (the header with those four bytes zeroed):
 * only the length rule can refuse it.
 */
function crcOfLength(length: number): Buffer {
  const header = buildV2({ address, tlvs: [tlv(0x03, Buffer.alloc(length))] });
  const at = header.length - length;
  if (length >= 4) header.writeUInt32BE(bitwiseCrc32c(header), at);
  return header;
}

describe('PP2_TYPE_CRC32C must be exactly 4 bytes (a 32-bit checksum)', () => {
  it('5 and 8 bytes, even with a matching checksum in front, are tlv-bad-crc32c', () => {
    expect(detailOf(() => parseProxyHeader(crcOfLength(5)))).toBe('tlv-bad-crc32c');
    expect(detailOf(() => parseProxyHeader(crcOfLength(8)))).toBe('tlv-bad-crc32c');
  });

  it('every length but 4 is refused; 4 with the right checksum is valid', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), (length) => {
        if (length === 4) expect(parseProxyHeader(crcOfLength(4)).tlvs.crc32c).toBe('valid');
        else expect(detailOf(() => parseProxyHeader(crcOfLength(length)))).toBe('tlv-bad-crc32c');
      }),
      { numRuns: 65 },
    );
  });
});
