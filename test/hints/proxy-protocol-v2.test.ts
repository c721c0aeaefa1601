import { describe, expect, it } from 'vitest';
import { parseProxyHeader, ProxyHeaderParser, ProxyProtocolError, readProxyHeader, type ProxyHeader } from '../../server/hints/proxy-protocol.js';
import { detailOf } from './proxy-error-detail.js';
import { buildV2, inetAddress, tlv } from './proxy-v2-builder.js';

const v4 = (src = [192, 0, 2, 1], dst = [10, 0, 0, 1]) => inetAddress(src, dst, 40000, 8080);
const v2 = (spec: Parameters<typeof buildV2>[0]): ProxyHeader => parseProxyHeader(buildV2(spec));
const v2Detail = (spec: Parameters<typeof buildV2>[0], max?: number) => detailOf(() => parseProxyHeader(buildV2(spec), max));
/** An SSL sub-TLV, and an SSL TLV value: client 0x01 (TLS), verify 0, then the sub-TLVs. */
const sub = (type: number, value: Buffer | string) => Buffer.concat([Buffer.from([type, 0, Buffer.byteLength(value)]), Buffer.from(value)]);
const sslBody = (...subs: Buffer[]) => Buffer.concat([Buffer.from([0x01, 0, 0, 0, 0]), ...subs]);

describe('PROXY v2', () => {
  it('reads TCP4, UDP4, TCP6 and UDP6 addresses and ports', () => {
    expect(v2({ fam: 0x11, address: v4() })).toMatchObject({
      version: 2,
      command: 'PROXY',
      family: 'TCP4',
      source: { address: '192.0.2.1', port: 40000 },
      destination: { address: '10.0.0.1', port: 8080 },
      length: 28,
    });
    expect(v2({ fam: 0x12, address: v4() }).family).toBe('UDP4');
    const six = (first: number[]) => inetAddress(first, [...Array(15).fill(0), 1], 1, 2);
    const db8 = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1];
    expect(v2({ fam: 0x21, address: six(db8) })).toMatchObject({ family: 'TCP6', source: { address: '2001:db8::1' }, destination: { address: '::1' } });
    expect(v2({ fam: 0x22, address: six(db8) }).family).toBe('UDP6');
    const mapped = [...Array(10).fill(0), 0xff, 0xff, 198, 51, 100, 4];
    expect(v2({ fam: 0x21, address: six(mapped) }).source).toEqual({ address: '198.51.100.4', port: 1 });
  });

  it('gives no source for LOCAL (family and block discarded), UNSPEC and UNIX', () => {
    for (const spec of [
      { command: 0, fam: 0x11, address: v4() },
      { command: 0, fam: 0x99, address: Buffer.from('anything at all') },
      { command: 1, fam: 0x00 },
      { command: 1, fam: 0x31, address: Buffer.alloc(216) },
      { command: 1, fam: 0x32, address: Buffer.alloc(216) },
    ]) {
      const header = v2(spec);
      expect(header.source).toBeUndefined();
      expect(header.command).toBe(spec.command === 0 ? 'LOCAL' : 'PROXY');
    }
  });

  it.each(
    [
      ['version 1', { version: 1, address: v4() }, 'v2-bad-version'],
      ['version 3', { version: 3, address: v4() }, 'v2-bad-version'],
      ['command 2', { command: 2, address: v4() }, 'v2-bad-command'],
      ['command 0xf', { command: 0xf, address: v4() }, 'v2-bad-command'],
      ['family 0x10', { fam: 0x10, address: v4() }, 'v2-bad-family'],
      ['family 0x13', { fam: 0x13, address: v4() }, 'v2-bad-family'],
      ['family 0x41', { fam: 0x41, address: v4() }, 'v2-bad-family'],
      ['TCP4 with 11 address bytes', { fam: 0x11, address: Buffer.alloc(11, 1) }, 'v2-short-address'],
      ['TCP6 with 12 address bytes', { fam: 0x21, address: v4() }, 'v2-short-address'],
      ['UNIX with 215 address bytes', { fam: 0x31, address: Buffer.alloc(215) }, 'v2-short-address'],
      ['source 0.0.0.0', { address: v4([0, 0, 0, 0]) }, 'unspecified-source'],
      ['source ::', { fam: 0x21, address: Buffer.alloc(36) }, 'unspecified-source'],
      ['a TLV cut short', { address: Buffer.concat([v4(), Buffer.from([0x04, 0x00, 0x05, 1, 2])]) }, 'tlv-overrun'],
      ['a TLV one byte past the end', { address: Buffer.concat([v4(), Buffer.from([0xe0, 0x00, 0x02, 1])]) }, 'tlv-overrun'],
      ['a TLV header cut short', { address: Buffer.concat([v4(), Buffer.from([0x04, 0x00])]) }, 'tlv-overrun'],
      ['two AUTHORITY', { address: v4(), tlvs: [tlv(2, 'a.example'), tlv(2, 'b.example')] }, 'tlv-duplicate'],
      ['CRC32C of 3 bytes', { address: v4(), tlvs: [tlv(3, Buffer.alloc(3))] }, 'tlv-bad-crc32c'],
      ['a wrong CRC32C', { address: v4(), crc: true, badCrc: true }, 'crc-mismatch'],
      ['UNIQUE_ID of 129 bytes', { address: v4(), tlvs: [tlv(5, Buffer.alloc(129, 0x41))] }, 'tlv-unique-id-too-long'],
      ['AUTHORITY of 256 bytes', { address: v4(), tlvs: [tlv(2, 'a'.repeat(256))] }, 'tlv-authority-too-long'],
      ['AUTHORITY not UTF-8', { address: v4(), tlvs: [tlv(2, Buffer.from([0xc3, 0x28]))] }, 'tlv-bad-text'],
      ['SSL of 4 bytes', { address: v4(), tlvs: [tlv(0x20, Buffer.alloc(4))] }, 'tlv-bad-ssl'],
      ['SSL sub-TLV overrun', { address: v4(), tlvs: [tlv(0x20, Buffer.from([1, 0, 0, 0, 0, 0x21, 0, 9, 0x41]))] }, 'tlv-overrun'],
      ['NETNS not ASCII', { address: v4(), tlvs: [tlv(0x30, Buffer.from([0xff]))] }, 'tlv-bad-text'],
      ['NETNS with DEL', { address: v4(), tlvs: [tlv(0x30, 'blue\x7f')] }, 'tlv-bad-text'],
      // every type the spec gives one meaning may occur once: which of two would be true?
      ['two ALPN', { address: v4(), tlvs: [tlv(1, 'h2'), tlv(1, 'http/1.1')] }, 'tlv-duplicate'],
      ['two CRC32C (the last one right)', { address: v4(), tlvs: [tlv(3, Buffer.alloc(4))], crc: true }, 'tlv-duplicate'],
      ['two UNIQUE_ID', { address: v4(), tlvs: [tlv(5, 'a'), tlv(5, 'b')] }, 'tlv-duplicate'],
      ['two SSL', { address: v4(), tlvs: [tlv(0x20, sslBody()), tlv(0x20, sslBody())] }, 'tlv-duplicate'],
      ['two NETNS', { address: v4(), tlvs: [tlv(0x30, 'blue'), tlv(0x30, 'red')] }, 'tlv-duplicate'],
      ['SSL with two VERSION sub-TLVs', { address: v4(), tlvs: [tlv(0x20, sslBody(sub(0x21, 'TLSv1.2'), sub(0x21, 'TLSv1.3')))] }, 'tlv-duplicate'],
      ['SSL VERSION not printable', { address: v4(), tlvs: [tlv(0x20, sslBody(sub(0x21, 'TLSv1.3\n')))] }, 'tlv-bad-text'],
      ['SSL CIPHER not ASCII', { address: v4(), tlvs: [tlv(0x20, sslBody(sub(0x23, Buffer.from([0x41, 0xc3, 0xa9]))))] }, 'tlv-bad-text'],
    ].map(([name, spec, detail]) => [name, detail, spec] as const),
  )('%s → %s', (_name, detail, spec) => {
    expect(v2Detail(spec as Parameters<typeof buildV2>[0])).toBe(detail);
  });

  it('reads every TLV the spec defines, keeps unknown ones, verifies CRC32C', () => {
    const ssl = Buffer.concat([
      Buffer.from([0x07, 0, 0, 0, 0]),
      Buffer.from([0x21, 0, 7]),
      Buffer.from('TLSv1.3'),
      Buffer.from([0x22, 0, 6]),
      Buffer.from('Zoë 1'),
      Buffer.from([0x23, 0, 22]),
      Buffer.from('TLS_AES_128_GCM_SHA256'),
      Buffer.from([0x26, 0, 1, 0x58]), // a newer subtype: skipped, bounds still checked
    ]);
    const header = v2({
      address: v4(),
      crc: true,
      tlvs: [
        tlv(1, 'h2'),
        tlv(2, 'api.example'),
        tlv(4, Buffer.alloc(3)),
        tlv(4, ''),
        tlv(5, Buffer.from([0, 1, 0xfe])),
        tlv(0x20, ssl),
        tlv(0x30, 'blue'),
        tlv(0xea, Buffer.from([1, 2])),
      ],
    });
    expect(header.tlvs).toMatchObject({
      alpn: 'h2',
      authority: 'api.example',
      uniqueId: '0001fe',
      netns: 'blue',
      crc32c: 'valid',
      ssl: { client: 7, verify: 0, version: 'TLSv1.3', cn: 'Zoë 1', cipher: 'TLS_AES_128_GCM_SHA256' },
    });
    expect(header.tlvs.raw.map((t) => t.type)).toEqual([1, 2, 4, 4, 5, 0x20, 0x30, 0xea, 3]);
    expect(header.tlvs.raw[7]!.value).toEqual(Buffer.from([1, 2]));
  });

  it('accepts every size the 16-bit length allows by default; a lower cap is an explicit option', () => {
    const sized = (total: number) => ({ address: v4(), tlvs: [tlv(0x04, Buffer.alloc(total - 28 - 3))] });
    expect(v2(sized(2060)).length).toBe(2060);
    expect(v2(sized(16 + 0xffff)).length).toBe(16 + 0xffff);
    expect(v2Detail(sized(2060), 2048)).toBe('v2-too-long');
    expect(parseProxyHeader(buildV2(sized(2048)), 2048).length).toBe(2048);
    // the length field alone decides: the bytes need not have arrived
    const lengthOnly = Buffer.concat([buildV2({ address: v4() }).subarray(0, 14), Buffer.from([0xff, 0xff])]);
    expect(readProxyHeader(lengthOnly).state).toBe('need-more');
    expect(() => readProxyHeader(lengthOnly, 2048)).toThrow(ProxyProtocolError);
    expect(() => new ProxyHeaderParser({ maxHeaderBytes: 100 })).toThrow(TypeError);
    expect(() => new ProxyHeaderParser({ maxHeaderBytes: 16 + 0xffff + 1 })).toThrow(TypeError);
  });

  it('UNIQUE_ID may be as long as the spec allows, 128 bytes', () => {
    const id = Buffer.alloc(128, 0xab);
    expect(v2({ address: v4(), tlvs: [tlv(5, id)] }).tlvs.uniqueId).toBe(id.toString('hex'));
  });

  it('an unspecified destination is read as such and keeps its own port', () => {
    const four = v2({ address: inetAddress([192, 0, 2, 1], [0, 0, 0, 0], 40000, 8080) });
    expect(four.destination).toEqual({ address: '0.0.0.0', port: 8080 });
    const six = v2({ fam: 0x21, address: inetAddress([0x20, 1, 0xd, 0xb8, ...Array(12).fill(0)], Array(16).fill(0), 40000, 8443) });
    expect(six.destination).toEqual({ address: '::', port: 8443 });
  });

  it('only the all-zero source is unspecified; v1 and v2 read every other source alike', () => {
    for (const octets of [
      [0, 0, 0, 1],
      [0, 0, 1, 0],
      [0, 1, 0, 0],
      [1, 0, 0, 0],
    ]) {
      const text = octets.join('.');
      const fromV1 = parseProxyHeader(Buffer.from(`PROXY TCP4 ${text} 10.0.0.1 40000 8080\r\n`));
      expect(fromV1.source).toEqual({ address: text, port: 40000 });
      expect(v2({ address: v4(octets) }).source).toEqual(fromV1.source);
    }
  });

  it('refuses version, command and family as soon as their byte arrives', () => {
    const bad = buildV2({ command: 5, address: v4() });
    expect(() => readProxyHeader(bad.subarray(0, 13))).toThrow(ProxyProtocolError);
    expect(readProxyHeader(buildV2({ address: v4() }).subarray(0, 13)).state).toBe('need-more');
  });
});
