import { parseIPv6, canonicalFromGroups, isStrictIPv4 } from '../../shared/address.js';
import { NO_TLVS, type ProxyEndpoint, type ProxyHeader } from './proxy-header.js';
import { ProxyProtocolError } from './proxy-protocol-error.js';

/** The spec's worst case, `PROXY UNKNOWN` + two full IPv6 addresses + two ports + CRLF. */
export const PROXY_V1_MAX_BYTES = 107;
export const PROXY_V1_PREFIX = Buffer.from('PROXY ', 'latin1');

const CR = 0x0d;
const LF = 0x0a;

/**
 * Parses a v1 header at the start of `data` (which begins with `PROXY `). Returns undefined
 * while the CRLF has not arrived yet and 107 bytes have not been exceeded. Bytes are checked
 * as they come, so garbage fails at once instead of waiting for the timeout.
 */
export function parseProxyV1(data: Uint8Array): ProxyHeader | undefined {
  const limit = Math.min(data.length, PROXY_V1_MAX_BYTES);
  let end = -1;
  for (let i = PROXY_V1_PREFIX.length; i < limit; i++) {
    const b = data[i]!;
    if (b === LF) {
      if (data[i - 1] !== CR) throw new ProxyProtocolError('v1-bad-line-ending');
      end = i - 1;
      break;
    }
    if (b === CR) {
      if (i + 1 < data.length && data[i + 1] !== LF) throw new ProxyProtocolError('v1-bad-line-ending');
    } else if (b < 0x20 || b > 0x7e) {
      throw new ProxyProtocolError('v1-bad-character');
    }
  }
  if (end === -1) {
    // byte 106 is the last place a CR could go; anything else there cannot end in time
    const lastCr = PROXY_V1_MAX_BYTES - 2;
    if (data.length > lastCr && data[lastCr] !== CR) throw new ProxyProtocolError('v1-too-long');
    return undefined;
  }
  const line = Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1', PROXY_V1_PREFIX.length, end);
  return parseLine(line, end + 2);
}

function parseLine(line: string, length: number): ProxyHeader {
  const space = line.indexOf(' ');
  const protocol = space === -1 ? line : line.slice(0, space);
  // the spec has the receiver ignore whatever UNKNOWN carries up to the CRLF
  if (protocol === 'UNKNOWN') return { version: 1, command: 'PROXY', family: 'UNKNOWN', tlvs: NO_TLVS, length };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') throw new ProxyProtocolError('v1-bad-protocol');
  const fields = line.split(' ');
  if (fields.length !== 5) throw new ProxyProtocolError('v1-bad-fields');
  const v6 = protocol === 'TCP6';
  const source = endpoint(fields[1]!, fields[3]!, v6, true);
  const destination = endpoint(fields[2]!, fields[4]!, v6, false);
  return { version: 1, command: 'PROXY', family: protocol, source, destination, tlvs: NO_TLVS, length };
}

function endpoint(addressText: string, portText: string, v6: boolean, isSource: boolean): ProxyEndpoint {
  // TCP4 wants dotted decimal, TCP6 wants IPv6 text: no crossing over, no zones, no brackets
  const groups = v6 && addressText.includes(':') ? parseIPv6(addressText) : undefined;
  if (v6 ? groups === undefined : !isStrictIPv4(addressText)) throw new ProxyProtocolError('v1-bad-address');
  const port = parsePort(portText);
  // strict dotted decimal is already canonical
  const address = groups !== undefined ? canonicalFromGroups(groups) : addressText === '0.0.0.0' ? undefined : addressText;
  if (address !== undefined) return { address, port };
  if (isSource) throw new ProxyProtocolError('unspecified-source');
  return { address: v6 ? '::' : '0.0.0.0', port };
}

function parsePort(text: string): number {
  const n = text.length;
  if (n === 0 || n > 5 || (n > 1 && text.charCodeAt(0) === 0x30)) throw new ProxyProtocolError('v1-bad-port');
  let value = 0;
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw new ProxyProtocolError('v1-bad-port');
    value = value * 10 + d;
  }
  if (value > 65535) throw new ProxyProtocolError('v1-bad-port');
  return value;
}
