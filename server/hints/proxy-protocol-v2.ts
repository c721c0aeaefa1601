import { canonicalFromGroups } from '../../shared/address.js';
import { NO_TLVS, type ProxyEndpoint, type ProxyFamily, type ProxyHeader } from './proxy-header.js';
import { ProxyProtocolError } from './proxy-protocol-error.js';
import { parseProxyV2Tlvs } from './proxy-protocol-tlv.js';

export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const FIXED = 16;

/** fam byte → [family, address block length]; every other value is invalid (spec §2.2). */
const FAMILIES: ReadonlyMap<number, readonly [ProxyFamily, number]> = new Map([
  [0x00, ['UNSPEC', 0]],
  [0x11, ['TCP4', 12]],
  [0x12, ['UDP4', 12]],
  [0x21, ['TCP6', 36]],
  [0x22, ['UDP6', 36]],
  [0x31, ['UNIX_STREAM', 216]],
  [0x32, ['UNIX_DGRAM', 216]],
]);

/**
 * Parses a v2 header at the start of `data` (which begins with the 12-byte signature).
 * Returns undefined until the whole `16 + len` bytes are there; version, command, family
 * and the size cap are checked as soon as their bytes arrive.
 */
export function parseProxyV2(data: Uint8Array, maxBytes: number): ProxyHeader | undefined {
  if (data.length > 12) {
    const verCmd = data[12]!;
    if (verCmd >> 4 !== 2) throw new ProxyProtocolError('v2-bad-version');
    if ((verCmd & 0x0f) > 1) throw new ProxyProtocolError('v2-bad-command');
  }
  const local = data.length > 12 && (data[12]! & 0x0f) === 0;
  // a LOCAL header's family is discarded unread, as the spec and HAProxy do
  const family = data.length > 13 && !local ? FAMILIES.get(data[13]!) : undefined;
  if (data.length > 13 && !local && family === undefined) throw new ProxyProtocolError('v2-bad-family');
  if (data.length < FIXED) return undefined;
  const total = FIXED + ((data[14]! << 8) | data[15]!);
  if (total > maxBytes) throw new ProxyProtocolError('v2-too-long');
  if (data.length < total) return undefined;
  if (local || family === undefined) return { version: 2, command: 'LOCAL', family: 'UNSPEC', tlvs: NO_TLVS, length: total };

  const [name, addressBytes] = family;
  if (total - FIXED < addressBytes) throw new ProxyProtocolError('v2-short-address');
  const header = data.length === total ? data : data.subarray(0, total);
  const tlvs = total > FIXED + addressBytes ? parseProxyV2Tlvs(header, FIXED + addressBytes) : NO_TLVS;
  if (addressBytes === 12) {
    const source = endpointV4(data, 16, 24);
    if (source === undefined) throw new ProxyProtocolError('unspecified-source');
    const destination = endpointV4(data, 20, 26) ?? { address: '0.0.0.0', port: readPort(data, 26) };
    return { version: 2, command: 'PROXY', family: name, source, destination, tlvs, length: total };
  }
  if (addressBytes === 36) {
    const source = endpointV6(data, 16, 48);
    if (source === undefined) throw new ProxyProtocolError('unspecified-source');
    const destination = endpointV6(data, 32, 50) ?? { address: '::', port: readPort(data, 50) };
    return { version: 2, command: 'PROXY', family: name, source, destination, tlvs, length: total };
  }
  // UNSPEC and UNIX carry no IP address: no l4 hint
  return { version: 2, command: 'PROXY', family: name, tlvs, length: total };
}

function readPort(data: Uint8Array, at: number): number {
  return (data[at]! << 8) | data[at + 1]!;
}

function endpointV4(data: Uint8Array, at: number, portAt: number): ProxyEndpoint | undefined {
  const a = data[at]!;
  const b = data[at + 1]!;
  const c = data[at + 2]!;
  const d = data[at + 3]!;
  if ((a | b | c | d) === 0) return undefined;
  return { address: `${a}.${b}.${c}.${d}`, port: readPort(data, portAt) };
}

function endpointV6(data: Uint8Array, at: number, portAt: number): ProxyEndpoint | undefined {
  const groups = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = (data[at + 2 * i]! << 8) | data[at + 2 * i + 1]!;
  const address = canonicalFromGroups(groups);
  return address === undefined ? undefined : { address, port: readPort(data, portAt) };
}
