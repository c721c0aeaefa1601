import { describe, expect, it } from 'vitest';
import { parseProxyHeader, ProxyHeaderParser, ProxyProtocolError, readProxyHeader } from '../../server/hints/proxy-protocol.js';
import { detailOf } from './proxy-error-detail.js';

const v1 = (text: string) => parseProxyHeader(Buffer.from(text, 'latin1'));
const v1Detail = (text: string) => detailOf(() => v1(text));

describe('PROXY v1', () => {
  it.each([
    ['PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n', '192.0.2.1', 56324, '198.51.100.2', 443],
    ['PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n', '2001:db8::1', 0, '2001:db8::2', 65535],
    ['PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 2\r\n', '2001:db8::1', 1, '::1', 2],
    ['PROXY TCP6 ::ffff:192.0.2.7 ::ffff:127.0.0.1 1 2\r\n', '192.0.2.7', 1, '127.0.0.1', 2],
  ])('%j', (text, src, sport, dst, dport) => {
    const header = v1(text);
    expect(header.source).toEqual({ address: src, port: sport });
    expect(header.destination).toEqual({ address: dst, port: dport });
    expect(header.length).toBe(text.length);
  });

  it('gives no source for UNKNOWN, short and long form, and ignores what UNKNOWN carries', () => {
    for (const text of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n', 'PROXY UNKNOWN whatever ~!\r\n']) {
      const header = v1(text);
      expect(header).toMatchObject({ version: 1, command: 'PROXY', family: 'UNKNOWN', length: text.length });
      expect(header.source).toBeUndefined();
    }
  });

  it('accepts exactly 107 bytes and refuses 108', () => {
    const at107 = `PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`;
    expect(at107.length).toBe(107);
    expect(v1(at107).length).toBe(107);
    expect(v1Detail(`PROXY UNKNOWN ${'x'.repeat(108 - 16)}\r\n`)).toBe('v1-too-long');
    // without a CRLF the verdict comes at byte 107, not at the timeout
    expect(() => readProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(92)}`))).toThrow(ProxyProtocolError);
    expect(readProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(91)}`)).state).toBe('need-more');
  });

  it('a 107-byte line cut between its CR and LF waits for the LF, then is read whole', () => {
    const at107 = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`);
    expect(readProxyHeader(at107.subarray(0, 106)).state).toBe('need-more');
    const parser = new ProxyHeaderParser();
    expect(parser.push(at107.subarray(0, 106)).state).toBe('need-more');
    const step = parser.push(Buffer.concat([at107.subarray(106), Buffer.from('GET')]));
    expect(step).toMatchObject({ state: 'done', header: { family: 'UNKNOWN', length: 107 }, rest: Buffer.from('GET') });
  });

  it.each([
    ['PROXY TCP4 010.0.0.1 10.0.0.2 1 2\r\n', 'v1-bad-address'],
    ['PROXY TCP4 2001:db8::1 10.0.0.2 1 2\r\n', 'v1-bad-address'],
    ['PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n', 'v1-bad-address'],
    ['PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n', 'v1-bad-address'],
    ['PROXY TCP6 [2001:db8::1] 2001:db8::2 1 2\r\n', 'v1-bad-address'],
    ['PROXY TCP4 192.0.2.1 10.0.0.256 1 2\r\n', 'v1-bad-address'],
    ['PROXY TCP4 0.0.0.0 10.0.0.2 1 2\r\n', 'unspecified-source'],
    ['PROXY TCP6 :: 2001:db8::2 1 2\r\n', 'unspecified-source'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 01 2\r\n', 'v1-bad-port'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 1 65536\r\n', 'v1-bad-port'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 -1 2\r\n', 'v1-bad-port'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 +1 2\r\n', 'v1-bad-port'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 1: 2\r\n', 'v1-bad-port'], // ':' follows '9' in ASCII
    ['PROXY TCP4 192.0.2.1  10.0.0.2 1 2\r\n', 'v1-bad-fields'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 1 2 \r\n', 'v1-bad-fields'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 1\r\n', 'v1-bad-fields'],
    ['PROXY  TCP4 192.0.2.1 10.0.0.2 1 2\r\n', 'v1-bad-protocol'],
    ['PROXY tcp4 192.0.2.1 10.0.0.2 1 2\r\n', 'v1-bad-protocol'],
    ['PROXY UDP4 192.0.2.1 10.0.0.2 1 2\r\n', 'v1-bad-protocol'],
    ['PROXY UNKNOWNX\r\n', 'v1-bad-protocol'],
    ['PROXY TCP4 192.0.2.1 10.0.0.2 1 2\n', 'v1-bad-line-ending'],
    ['PROXY TCP4 192.0.2.1\r10.0.0.2 1 2\r\n', 'v1-bad-line-ending'],
    ['PROXY UNKNOWN\r\r\n', 'v1-bad-line-ending'],
    ['PROXY TCP4 192.0.2.1\t10.0.0.2 1 2\r\n', 'v1-bad-character'],
    ['PROXY UNKNOWN \u00e9\r\n', 'v1-bad-character'],
    // printable ASCII is 0x20–0x7e: DEL and the control bytes just below the space are out
    ['PROXY UNKNOWN \u007f\r\n', 'v1-bad-character'],
    ['PROXY UNKNOWN \u001f\r\n', 'v1-bad-character'],
  ])('%j → %s', (text, detail) => {
    expect(v1Detail(text)).toBe(detail);
  });

  it('fails at the first impossible byte, without waiting for the CRLF', () => {
    expect(() => readProxyHeader(Buffer.from('PROXY TCP4 \0'))).toThrow(ProxyProtocolError);
    expect(() => readProxyHeader(Buffer.from('PROXY TCP4\rX'))).toThrow(ProxyProtocolError);
    expect(readProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4\r')).state).toBe('need-more');
  });
});
