import { canonicalAddress, parseIPv4, parseIPv6 } from '../../../shared/index.js';

/** One end of a proxied connection. */
export interface ProxyEndpointSpec {
  readonly address: string;
  readonly port: number;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function canonicalPair(source: ProxyEndpointSpec, destination: ProxyEndpointSpec): { src: string; dst: string; v6: boolean } {
  const src = canonicalAddress(source.address);
  const dst = canonicalAddress(destination.address);
  if (src === undefined || dst === undefined) throw new TypeError('PROXY endpoints must be valid, specified addresses');
  const v6 = src.includes(':');
  if (v6 !== dst.includes(':')) throw new TypeError('PROXY endpoints must be of one address family');
  for (const port of [source.port, destination.port]) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('PROXY ports must be 0–65535');
  }
  return { src, dst, v6 };
}

/** `PROXY TCP4|TCP6 src dst sport dport\r\n` (HAProxy proxy-protocol.txt §2.1). */
export function encodeProxyV1(source: ProxyEndpointSpec, destination: ProxyEndpointSpec): Buffer {
  const { src, dst, v6 } = canonicalPair(source, destination);
  return Buffer.from(`PROXY ${v6 ? 'TCP6' : 'TCP4'} ${src} ${dst} ${source.port} ${destination.port}\r\n`, 'latin1');
}

function addressBytes(address: string, v6: boolean): Buffer {
  if (!v6) return Buffer.from(parseIPv4(address)!);
  const out = Buffer.alloc(16);
  parseIPv6(address)!.forEach((group, i) => out.writeUInt16BE(group, i * 2));
  return out;
}

/** A v2 PROXY command over TCP, no TLVs (§2.2): what HAProxy's `send-proxy-v2` writes. */
export function encodeProxyV2(source: ProxyEndpointSpec, destination: ProxyEndpointSpec): Buffer {
  const { src, dst, v6 } = canonicalPair(source, destination);
  const block = Buffer.concat([addressBytes(src, v6), addressBytes(dst, v6), Buffer.alloc(4)]);
  block.writeUInt16BE(source.port, block.length - 4);
  block.writeUInt16BE(destination.port, block.length - 2);
  const fixed = Buffer.from([0x21, v6 ? 0x21 : 0x11, 0, 0]);
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, block]);
}
