import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../server/hints/crc32c.js';
import { detectProxySignature, parseProxyHeader, ProxyHeaderParser, ProxyProtocolError } from '../../server/hints/proxy-protocol.js';
import { detailOf } from './proxy-error-detail.js';
import { bitwiseCrc32c, buildV2, inetAddress, tlv } from './proxy-v2-builder.js';

/** Copied from the shared vectors (/work/shared/vectors): first bytes real peers sent. */
interface Capture {
  name: string;
  expect: { version: 1 | 2; family: string; src: string; dst: string; dstPort: number; headerBytes: number; tlvs?: string[] };
  hex: string;
}
const captures = JSON.parse(readFileSync(new URL('./fixtures/proxy-protocol-captures.json', import.meta.url), 'utf8')) as Capture[];

describe('captured headers from HAProxy 2.6 and nginx 1.22', () => {
  it.each(captures.map((c) => [c.name, c] as const))('%s', (_name, capture) => {
    const bytes = Buffer.from(capture.hex, 'hex');
    const header = parseProxyHeader(bytes);
    expect(header).toMatchObject({
      version: capture.expect.version,
      command: 'PROXY',
      family: capture.expect.family,
      source: { address: capture.expect.src },
      destination: { address: capture.expect.dst, port: capture.expect.dstPort },
      length: capture.expect.headerBytes,
    });
    const tlvs = capture.expect.tlvs ?? [];
    if (tlvs.includes('CRC32C (valid)')) expect(header.tlvs.crc32c).toBe('valid');
    if (tlvs.includes('UNIQUE_ID (empty)')) expect(header.tlvs.uniqueId).toBe('');
    if (tlvs.includes('UNIQUE_ID (41 bytes)')) {
      expect(Buffer.from(header.tlvs.uniqueId!, 'hex').toString()).toMatch(/^7F000005:[0-9A-F]{4}_7F000001:23[0-9A-F]{2}_[0-9A-F]{8}_[0-9A-F]{4}$/);
    }
  });

  it('hands back the HTTP request that arrived in the same read as the header', () => {
    const capture = captures.find((c) => c.expect.headerBytes === 72)!;
    const step = new ProxyHeaderParser().push(Buffer.from(capture.hex, 'hex'));
    expect(step.state).toBe('done');
    if (step.state !== 'done') return;
    expect(step.rest.toString('latin1')).toMatch(/^GET \/d HTTP\/1\.1\r\n[^]*x-forwarded-for: 127\.0\.0\.5\r\n\r\n$/);
  });

  it('rejects the v2 capture once a checksummed byte changes', () => {
    const bytes = Buffer.from(captures[0]!.hex, 'hex');
    bytes[17] = bytes[17]! ^ 0x01; // a source address byte, covered by the CRC32C TLV
    expect(detailOf(() => parseProxyHeader(bytes))).toBe('crc-mismatch');
  });
});

describe('CRC32C', () => {
  it('matches the RFC 3720 check value and a bit-by-bit reference', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff));
    for (const n of [0, 1, 3, 4, 5, 63, 1000]) expect(crc32c(data.subarray(0, n))).toBe(bitwiseCrc32c(data.subarray(0, n)));
  });
});

describe('signature detection', () => {
  it.each([
    ['', 'undecided'],
    ['P', 'undecided'],
    ['PROXY', 'undecided'],
    ['PROXY ', 'v1'],
    ['PROXY TCP4', 'v1'],
    ['PROPFIND / HTTP/1.1', 'not-proxy'],
    ['POST / HTTP/1.1', 'not-proxy'],
    ['PUT / HTTP/1.1', 'not-proxy'],
    ['PROXYX', 'not-proxy'],
    ['GET / HTTP/1.1', 'not-proxy'],
    ['\r\n\r\n', 'undecided'],
    ['\r\n\r\nGET', 'not-proxy'],
    ['\r\n\r\n\0\r\nQUIT', 'undecided'],
    ['\r\n\r\n\0\r\nQUIT\n', 'v2'],
  ])('%j → %s', (text, kind) => {
    expect(detectProxySignature(Buffer.from(text, 'latin1'))).toBe(kind);
  });

  it('one-shot parsing names the problem', () => {
    expect(detailOf(() => parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')))).toBe('bad-signature');
    expect(detailOf(() => parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')))).toBe('truncated');
    expect(detailOf(() => parseProxyHeader(buildV2({ address: Buffer.alloc(12) }).subarray(0, 20)))).toBe('truncated');
  });
});

describe('ProxyHeaderParser', () => {
  it('passes anything that is not a PROXY header through untouched', () => {
    const parser = new ProxyHeaderParser();
    expect(parser.push(Buffer.from('PR')).state).toBe('need-more');
    const step = parser.push(Buffer.from('OPFIND / HTTP/1.1\r\n'));
    expect(step).toEqual({ state: 'not-proxy', rest: Buffer.from('PROPFIND / HTTP/1.1\r\n') });
  });

  it('gathers at most the cap and returns bytes past it as rest', () => {
    const header = buildV2({ address: inetAddress([192, 0, 2, 1], [10, 0, 0, 1], 1, 2), tlvs: [tlv(0xe0, Buffer.alloc(200, 7))] });
    const parser = new ProxyHeaderParser({ maxHeaderBytes: 300 });
    expect(parser.push(header.subarray(0, 5)).state).toBe('need-more');
    const step = parser.push(Buffer.concat([header.subarray(5), Buffer.alloc(5000, 0x41)]));
    expect(step.state).toBe('done');
    if (step.state === 'done') expect(step.rest).toEqual(Buffer.alloc(5000, 0x41));
  });

  it('refuses to be used after it finished', () => {
    const parser = new ProxyHeaderParser();
    parser.push(Buffer.from('GET / HTTP/1.1\r\n'));
    expect(() => parser.push(Buffer.from('x'))).toThrow(Error);
  });

  it('after refusing a header it takes nothing more: a second header cannot replace the first', () => {
    const good = Buffer.from('PROXY TCP4 192.0.2.7 10.0.0.1 40000 80\r\n');
    for (const bad of [Buffer.from('PROXY TCP4 010.0.0.1 10.0.0.1 1 2\r\n'), buildV2({ version: 1, address: Buffer.alloc(12) })]) {
      const parser = new ProxyHeaderParser();
      expect(() => parser.push(bad)).toThrow(ProxyProtocolError);
      expect(() => parser.push(good)).toThrow('ProxyHeaderParser: push after the parser finished');
    }
    // the same after the bad bytes came in pieces
    const split = new ProxyHeaderParser();
    expect(split.push(Buffer.from('PROXY TCP4 ')).state).toBe('need-more');
    expect(() => split.push(Buffer.from('\0'))).toThrow(ProxyProtocolError);
    expect(() => split.push(good)).toThrow('ProxyHeaderParser: push after the parser finished');
  });
});
