/**
 * Encodes PROXY v2 headers for tests, written straight from the spec text and independent
 * of the parser (its own bit-by-bit CRC32C), so the two can check each other.
 */
export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

export interface V2Spec {
  command?: number; // low nibble of byte 12; 1 = PROXY
  version?: number; // high nibble of byte 12; 2
  fam?: number; // byte 13
  address?: Buffer; // the address block, any length
  tlvs?: readonly { type: number; value: Buffer }[];
  /** Append a CRC32C TLV last and fill it in (or with `badCrc`, fill it wrong). */
  crc?: boolean;
  badCrc?: boolean;
}

export function tlv(type: number, value: Buffer | string): { type: number; value: Buffer } {
  return { type, value: typeof value === 'string' ? Buffer.from(value) : value };
}

function tlvBytes(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

export function inetAddress(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(src.length * 2 + 4);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, src.length);
  b.writeUInt16BE(sport, src.length * 2);
  b.writeUInt16BE(dport, src.length * 2 + 2);
  return b;
}

export function buildV2(spec: V2Spec): Buffer {
  const parts = [spec.address ?? Buffer.alloc(0), ...(spec.tlvs ?? []).map((t) => tlvBytes(t.type, t.value))];
  if (spec.crc) parts.push(tlvBytes(0x03, Buffer.alloc(4)));
  const body = Buffer.concat(parts);
  const fixed = Buffer.alloc(4);
  fixed[0] = ((spec.version ?? 2) << 4) | (spec.command ?? 1);
  fixed[1] = spec.fam ?? 0x11;
  fixed.writeUInt16BE(body.length, 2);
  const header = Buffer.concat([V2_SIGNATURE, fixed, body]);
  if (spec.crc) {
    const crc = bitwiseCrc32c(header);
    header.writeUInt32BE(spec.badCrc ? (crc ^ 1) >>> 0 : crc, header.length - 4);
  }
  return header;
}

export function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
