import { isUtf8 } from 'node:buffer';
import { CRC32C_INIT, crc32cFinish, crc32cUpdate, crc32cZeros } from './crc32c.js';
import type { ProxySslInfo, ProxyTlv, ProxyTlvs } from './proxy-header.js';
import { ProxyProtocolError } from './proxy-protocol-error.js';

const PP2_TYPE_ALPN = 0x01;
const PP2_TYPE_AUTHORITY = 0x02;
const PP2_TYPE_CRC32C = 0x03;
const PP2_TYPE_NOOP = 0x04;
const PP2_TYPE_UNIQUE_ID = 0x05;
const PP2_TYPE_SSL = 0x20;
const PP2_TYPE_NETNS = 0x30;

const SSL_SUBTYPES: Readonly<Record<number, 'version' | 'cn' | 'cipher' | 'sigAlg' | 'keyAlg'>> = {
  0x21: 'version',
  0x22: 'cn',
  0x23: 'cipher',
  0x24: 'sigAlg',
  0x25: 'keyAlg',
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The TLVs of one header. Named fields are read eagerly; `raw` is built on first use from a
 * private copy of the TLV bytes — most callers never look, and a Buffer per TLV would
 * dominate the cost of a parse.
 */
class ParsedTlvs implements ProxyTlvs {
  declare alpn?: string;
  declare authority?: string;
  declare crc32c?: 'valid';
  declare uniqueId?: string;
  declare ssl?: ProxySslInfo;
  declare netns?: string;
  readonly #bytes: Buffer;
  #raw: readonly ProxyTlv[] | undefined;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get raw(): readonly ProxyTlv[] {
    if (this.#raw === undefined) {
      const list: ProxyTlv[] = [];
      const bytes = this.#bytes;
      for (let at = 0; at < bytes.length;) {
        const to = at + 3 + ((bytes[at + 1]! << 8) | bytes[at + 2]!);
        list.push(Object.freeze({ type: bytes[at]!, value: bytes.subarray(at + 3, to) }));
        at = to;
      }
      this.#raw = Object.freeze(list);
    }
    return this.#raw;
  }
}

/**
 * Reads the TLVs of a complete v2 header, `header[start, header.length)`. Every length is
 * checked against its container before it is used; a known type that occurs twice is an
 * error (which of two AUTHORITYs would be true?); unknown types are kept, not refused.
 */
export function parseProxyV2Tlvs(header: Uint8Array, start: number): ProxyTlvs {
  const end = header.length;
  const bytes = Buffer.allocUnsafe(end - start);
  bytes.set(header.subarray(start, end));
  const out: Mutable<ParsedTlvs> = new ParsedTlvs(bytes);
  let seen = 0; // bit per singleton type
  let crcAt = -1;
  let expectedCrc = 0;
  for (let at = start; at < end;) {
    if (at + 3 > end) throw new ProxyProtocolError('tlv-overrun');
    const type = header[at]!;
    const length = (header[at + 1]! << 8) | header[at + 2]!;
    const from = at + 3;
    const to = from + length;
    if (to > end) throw new ProxyProtocolError('tlv-overrun');
    const bit = singletonBit(type);
    if (bit !== 0) {
      if (seen & bit) throw new ProxyProtocolError('tlv-duplicate');
      seen |= bit;
    }
    // offsets into the private copy
    const a = from - start;
    const b = to - start;
    switch (type) {
      case PP2_TYPE_ALPN:
        out.alpn = bytes.toString('latin1', a, b);
        break;
      case PP2_TYPE_AUTHORITY:
        if (length > 255) throw new ProxyProtocolError('tlv-authority-too-long');
        if (!isUtf8(bytes.subarray(a, b))) throw new ProxyProtocolError('tlv-bad-text');
        out.authority = bytes.toString('utf8', a, b);
        break;
      case PP2_TYPE_CRC32C:
        if (length !== 4) throw new ProxyProtocolError('tlv-bad-crc32c');
        crcAt = from;
        expectedCrc = bytes.readUInt32BE(a);
        break;
      case PP2_TYPE_UNIQUE_ID:
        if (length > 128) throw new ProxyProtocolError('tlv-unique-id-too-long');
        out.uniqueId = bytes.toString('hex', a, b);
        break;
      case PP2_TYPE_SSL:
        out.ssl = parseSsl(bytes.subarray(a, b));
        break;
      case PP2_TYPE_NETNS:
        if (!isPrintableAscii(bytes, a, b)) throw new ProxyProtocolError('tlv-bad-text');
        out.netns = bytes.toString('latin1', a, b);
        break;
      default: // NOOP, custom, experimental and future types: in `raw` only
    }
    at = to;
  }
  if (crcAt !== -1) {
    let crc = crc32cUpdate(CRC32C_INIT, header, 0, crcAt);
    crc = crc32cZeros(crc, 4);
    crc = crc32cUpdate(crc, header, crcAt + 4, end);
    if (crc32cFinish(crc) !== expectedCrc) throw new ProxyProtocolError('crc-mismatch');
    out.crc32c = 'valid';
  }
  return out;
}

function singletonBit(type: number): number {
  switch (type) {
    case PP2_TYPE_ALPN:
      return 1;
    case PP2_TYPE_AUTHORITY:
      return 2;
    case PP2_TYPE_CRC32C:
      return 4;
    case PP2_TYPE_UNIQUE_ID:
      return 8;
    case PP2_TYPE_SSL:
      return 16;
    case PP2_TYPE_NETNS:
      return 32;
    case PP2_TYPE_NOOP:
    default:
      return 0;
  }
}

function parseSsl(value: Buffer): ProxySslInfo {
  if (value.length < 5) throw new ProxyProtocolError('tlv-bad-ssl');
  const ssl: Mutable<ProxySslInfo> = { client: value[0]!, verify: value.readUInt32BE(1) };
  let seen = 0;
  for (let at = 5; at < value.length;) {
    if (at + 3 > value.length) throw new ProxyProtocolError('tlv-overrun');
    const type = value[at]!;
    const from = at + 3;
    const to = from + ((value[at + 1]! << 8) | value[at + 2]!);
    if (to > value.length) throw new ProxyProtocolError('tlv-overrun');
    const field = SSL_SUBTYPES[type];
    if (field !== undefined) {
      const bit = 1 << (type - 0x21);
      if (seen & bit) throw new ProxyProtocolError('tlv-duplicate');
      seen |= bit;
      if (field === 'cn') {
        if (!isUtf8(value.subarray(from, to))) throw new ProxyProtocolError('tlv-bad-text');
        ssl.cn = value.toString('utf8', from, to);
      } else {
        if (!isPrintableAscii(value, from, to)) throw new ProxyProtocolError('tlv-bad-text');
        ssl[field] = value.toString('latin1', from, to);
      }
    }
    at = to;
  }
  return ssl;
}

function isPrintableAscii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i]! > 0x7e || bytes[i]! < 0x20) return false;
  return true;
}
