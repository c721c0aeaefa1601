/**
 * A second, deliberately plain reading of proxy-protocol.txt (regexes, node:net, the URL parser,
 * a bit-by-bit CRC) that the property tests hold the real parser against. Outcomes only:
 * the error detail is the parser's business, accept-or-refuse and the result are not.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { bitwiseCrc32c, V2_SIGNATURE } from './proxy-v2-builder.js';

export type Outcome = 'need-more' | 'not-proxy' | 'error' | { header: Record<string, unknown>; length: number };

const V1_PREFIX = Buffer.from('PROXY ');

/** Via the WHATWG URL serializer, whose IPv6 compression is RFC 5952's (ipaddr.js reads `::0.0.0.1` as mapped). */
function canonical(text: string): string | undefined {
  if (!text.includes(':')) return text === '0.0.0.0' ? undefined : text;
  const v6 = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    return canonical(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  return v6 === '::' ? undefined : v6;
}

export function referenceOutcome(data: Buffer, maxBytes = 16 + 0xffff): Outcome {
  const isV2 = data[0] === 0x0d;
  const sig = isV2 ? V2_SIGNATURE : V1_PREFIX;
  for (let i = 0; i < Math.min(data.length, sig.length); i++) if (data[i] !== sig[i]) return 'not-proxy';
  if (data.length < sig.length) return 'need-more';
  return isV2 ? referenceV2(data, maxBytes) : referenceV1(data);
}

function referenceV1(data: Buffer): Outcome {
  const text = data.subarray(0, 107).toString('latin1');
  const crlf = text.indexOf('\r\n');
  const head = crlf === -1 ? text : text.slice(0, crlf);
  // a bad byte, or a lone CR / LF; only unfinished input may end in a CR still waiting for its LF
  if (!(crlf === -1 ? /^[\x20-\x7e]*\r?$/ : /^[\x20-\x7e]*$/).test(head)) return 'error';
  if (crlf === -1) return data.length >= 106 && data[105] !== 0x0d ? 'error' : 'need-more'; // no room left for CRLF
  const length = crlf + 2;
  const line = text.slice(6, crlf);
  if (/^UNKNOWN( |$)/.test(line)) return { header: { version: 1, command: 'PROXY', family: 'UNKNOWN' }, length };
  const m = /^(TCP4|TCP6) (\S+) (\S+) (0|[1-9][0-9]{0,4}) (0|[1-9][0-9]{0,4})$/.exec(line);
  if (!m) return 'error';
  const [, family, src, dst, sport, dport] = m as unknown as [string, string, string, string, string, string];
  const valid = (a: string) => (family === 'TCP4' ? isIPv4(a) : isIPv6(a) && !a.includes('%'));
  if (!valid(src) || !valid(dst) || Number(sport) > 65535 || Number(dport) > 65535) return 'error';
  const source = canonical(src);
  if (source === undefined) return 'error';
  const destination = canonical(dst) ?? (family === 'TCP4' ? '0.0.0.0' : '::');
  return {
    header: {
      version: 1,
      command: 'PROXY',
      family,
      source: { address: source, port: Number(sport) },
      destination: { address: destination, port: Number(dport) },
    },
    length,
  };
}

const FAMILIES: Record<number, [string, number]> = {
  0x00: ['UNSPEC', 0],
  0x11: ['TCP4', 12],
  0x12: ['UDP4', 12],
  0x21: ['TCP6', 36],
  0x22: ['UDP6', 36],
  0x31: ['UNIX_STREAM', 216],
  0x32: ['UNIX_DGRAM', 216],
};

function referenceV2(data: Buffer, maxBytes: number): Outcome {
  if (data.length >= 13 && (data[12]! >> 4 !== 2 || (data[12]! & 15) > 1)) return 'error';
  const local = data.length >= 13 && (data[12]! & 15) === 0;
  if (data.length >= 14 && !local && !(data[13]! in FAMILIES)) return 'error';
  if (data.length < 16) return 'need-more';
  const length = 16 + data.readUInt16BE(14);
  if (length > maxBytes) return 'error';
  if (data.length < length) return 'need-more';
  if (local) return { header: { version: 2, command: 'LOCAL', family: 'UNSPEC' }, length };
  const [family, addressLength] = FAMILIES[data[13]!]!;
  if (length - 16 < addressLength) return 'error';
  const header: Record<string, unknown> = { version: 2, command: 'PROXY', family };
  const ip = (at: number, n: number) =>
    n === 4 ? [...data.subarray(at, at + 4)].join('.') : Array.from({ length: 8 }, (_, i) => data.readUInt16BE(at + 2 * i).toString(16)).join(':');
  const n = addressLength === 12 ? 4 : addressLength === 36 ? 16 : 0;
  if (n > 0) {
    const source = canonical(ip(16, n));
    if (source === undefined) return 'error';
    header.source = { address: source, port: data.readUInt16BE(16 + 2 * n) };
    header.destination = { address: canonical(ip(16 + n, n)) ?? (n === 4 ? '0.0.0.0' : '::'), port: data.readUInt16BE(18 + 2 * n) };
  }
  const tlvs = referenceTlvs(data.subarray(0, length), 16 + addressLength);
  if (tlvs === 'error') return 'error';
  header.tlvs = tlvs;
  return { header, length };
}

function walk(bytes: Buffer, from: number): { type: number; value: Buffer; at: number }[] | 'error' {
  const out = [];
  let at = from;
  while (at < bytes.length) {
    if (bytes.length - at < 3) return 'error';
    const len = bytes.readUInt16BE(at + 1);
    if (at + 3 + len > bytes.length) return 'error';
    out.push({ type: bytes[at]!, value: bytes.subarray(at + 3, at + 3 + len), at: at + 3 });
    at += 3 + len;
  }
  return out;
}

const printable = (b: Buffer) => [...b].every((c) => c >= 0x20 && c <= 0x7e);
const utf8 = (b: Buffer) => Buffer.from(b.toString('utf8')).equals(b);

function referenceTlvs(header: Buffer, from: number): Record<string, unknown> | 'error' {
  const list = walk(header, from);
  if (list === 'error') return 'error';
  const out: Record<string, unknown> = { rawTypes: list.map((t) => t.type) };
  for (const type of [1, 2, 3, 5, 0x20, 0x30]) if (list.filter((t) => t.type === type).length > 1) return 'error';
  for (const { type, value, at } of list) {
    if (type === 1) out.alpn = value.toString('latin1');
    if (type === 2) {
      if (value.length > 255 || !utf8(value)) return 'error';
      out.authority = value.toString('utf8');
    }
    if (type === 3) {
      if (value.length !== 4) return 'error';
      const zeroed = Buffer.from(header);
      zeroed.fill(0, at, at + 4);
      if (bitwiseCrc32c(zeroed) !== value.readUInt32BE(0)) return 'error';
      out.crc32c = 'valid';
    }
    if (type === 5) {
      if (value.length > 128) return 'error';
      out.uniqueId = value.toString('hex');
    }
    if (type === 0x30) {
      if (!printable(value)) return 'error';
      out.netns = value.toString('latin1');
    }
    if (type === 0x20) {
      if (value.length < 5) return 'error';
      const ssl: Record<string, unknown> = { client: value[0], verify: value.readUInt32BE(1) };
      const subs = walk(value, 5);
      if (subs === 'error') return 'error';
      const names: Record<number, string> = { 0x21: 'version', 0x22: 'cn', 0x23: 'cipher', 0x24: 'sigAlg', 0x25: 'keyAlg' };
      for (const sub of subs) {
        const name = names[sub.type];
        if (name === undefined) continue;
        if (name in ssl) return 'error';
        if (name === 'cn' ? !utf8(sub.value) : !printable(sub.value)) return 'error';
        ssl[name] = sub.value.toString(name === 'cn' ? 'utf8' : 'latin1');
      }
      out.ssl = ssl;
    }
  }
  return out;
}
