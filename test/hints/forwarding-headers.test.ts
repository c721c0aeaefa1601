import { describe, expect, it } from 'vitest';
import { forwardedForOf, parseForwarded } from '../../server/hints/forwarded.js';
import { forwardingHeaderReader, headerInstances, parseSingleAddressHeader, parseXForwardedFor } from '../../server/hints/forwarding-header.js';

const U = undefined;

describe('X-Forwarded-For', () => {
  it.each([
    [['203.0.113.9, 127.0.0.5'], ['203.0.113.9', '127.0.0.5']],
    [
      ['203.0.113.9', '127.0.0.5'],
      ['203.0.113.9', '127.0.0.5'],
    ], // HAProxy adds a second line
    [['203.0.113.9,127.0.0.5'], ['203.0.113.9', '127.0.0.5']],
    [[' \t203.0.113.9 ,\t127.0.0.5 '], ['203.0.113.9', '127.0.0.5']],
    [['[2001:db8::1]:443, 192.0.2.1:5000'], ['2001:db8::1', '192.0.2.1']],
    [['2001:DB8:0::1, ::ffff:192.0.2.1, fe80::1%eth0'], ['2001:db8::1', '192.0.2.1', 'fe80::1']],
    [['unknown, 010.0.0.1, 0.0.0.0, ::, 192.0.2.1'], [U, U, U, U, '192.0.2.1']],
    [['192.0.2.1,, 192.0.2.2'], ['192.0.2.1', U, '192.0.2.2']],
    [
      ['', '192.0.2.2'],
      [U, '192.0.2.2'],
    ],
    [['192.0.2.1 192.0.2.2'], [U]],
    [['192.0.2.1\u00a0'], [U]], // only space and tab are whitespace
    [[], []],
  ])('%j → %j', (values, expected) => {
    expect(parseXForwardedFor(values)).toEqual(expected);
  });

  it('keeps the rightmost entries past the entry cap, behind one invalid marker', () => {
    const many = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`);
    const got = parseXForwardedFor([many.join(', ')]);
    expect(got).toHaveLength(32);
    expect(got[0]).toBeUndefined();
    expect(got.slice(1)).toEqual(many.slice(-31));
    // exactly at the cap nothing is cut
    expect(parseXForwardedFor([many.slice(0, 32).join(',')])).toEqual(many.slice(0, 32));
  });

  it('reads only the rightmost maxBytes characters; an entry that does not fit becomes the marker', () => {
    const limits = { maxEntries: 32, maxBytes: 20 };
    expect(parseXForwardedFor(['192.0.2.1,192.0.2.22'], limits)).toEqual(['192.0.2.1', '192.0.2.22']); // 20 chars
    expect(parseXForwardedFor(['192.0.2.11,192.0.2.22'], limits)).toEqual([U, '192.0.2.22']); // 21 chars
    expect(parseXForwardedFor(['x'.repeat(100000), '192.0.2.22'])).toEqual([U, '192.0.2.22']);
  });
});

describe('Forwarded (RFC 7239)', () => {
  it.each([
    ['for=192.0.2.60;proto=http;by=203.0.113.43', '192.0.2.60'],
    ['For="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17'],
    ['FOR=192.0.2.43', '192.0.2.43'],
    ['for="192.0.2.43:80"', '192.0.2.43'],
    ['for=[2001:db8::1]', '2001:db8::1'], // unquoted brackets: tolerated
    ['for="\\[2001:db8::1\\]"', '2001:db8::1'], // quoted-pairs are unescaped
    ['proto=https;for=192.0.2.1;', '192.0.2.1'], // empty pair is allowed
    ['for="::ffff:192.0.2.1"', '192.0.2.1'],
    ['for=unknown', U],
    ['for="_gazonk"', U],
    ['for=_hidden', U],
    ['by=192.0.2.1', U], // no for
    ['', U],
    ['for=192.0.2.1;for=192.0.2.2', U], // a parameter twice
    ['for=192.0.2.1;FOR=192.0.2.2', U],
    ['for = 192.0.2.1', U],
    ['for=192.0.2.1;junk', U],
    ['for="192.0.2.1', U], // unterminated quote
    ['for="192.0.2.1"x', U],
    ['for=192.0.2.1;proto="ht"tp"', U],
    ['for=192.0.2.1"', U],
    ['for=', U],
    ['=192.0.2.1', U],
  ])('%j → %j', (element, expected) => {
    expect(forwardedForOf(element)).toBe(expected);
  });

  it('splits at every comma, so a stray quote cannot swallow what proxies appended', () => {
    expect(parseForwarded(['for="192.0.2.1, for=198.51.100.7'])).toEqual([U, '198.51.100.7']);
    expect(parseForwarded(['for="a,b;c"', 'for=198.51.100.7'])).toEqual([U, U, '198.51.100.7']);
    expect(parseForwarded(['for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com'])).toEqual(['192.0.2.43', '198.51.100.17']);
  });
});

describe('single-address headers', () => {
  it.each([
    [[], []],
    [['192.0.2.1'], ['192.0.2.1']],
    [[' [2001:db8::1]:443 '], ['2001:db8::1']],
    [['192.0.2.1', '192.0.2.2'], [U]],
    [['192.0.2.1, 192.0.2.2'], [U]],
    [['unknown'], [U]],
  ])('%j → %j', (values, expected) => {
    expect(parseSingleAddressHeader(values)).toEqual(expected);
  });
});

describe('forwardingHeaderReader', () => {
  it('selects the parser by name, any case', () => {
    expect(forwardingHeaderReader('X-Forwarded-For')(['192.0.2.1, 192.0.2.2'])).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(forwardingHeaderReader('Forwarded')(['for=192.0.2.1, for=192.0.2.2'])).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(forwardingHeaderReader('cf-connecting-ip')(['192.0.2.1', '192.0.2.2'])).toEqual([U]);
    expect(forwardingHeaderReader('x-real-ip').headerName).toBe('x-real-ip');
    expect(forwardingHeaderReader().headerName).toBe('x-forwarded-for');
  });

  it('throws TypeError naming the option for a bad name or bad limits', () => {
    expect(() => forwardingHeaderReader('x forwarded')).toThrow(/forwardedHeader/);
    // a header that already means something else: the stamp, the ticket (both client-written), the server's name
    expect(() => forwardingHeaderReader('Client-IP-Attestation')).toThrow(
      'forwardedHeader: "client-ip-attestation" is not a forwarding header (it carries the stamp or ticket)',
    );
    expect(() => forwardingHeaderReader('client-ip-ticket')).toThrow('"client-ip-ticket" is not a forwarding header');
    expect(() => forwardingHeaderReader('Host', undefined, '--forwarded-header')).toThrow(
      '--forwarded-header: "host" is not a forwarding header (it carries the server name)',
    );
    expect(() => forwardingHeaderReader('')).toThrow(TypeError);
    expect(() => forwardingHeaderReader('x-forwarded-for', { maxEntries: 0 })).toThrow(/forwardedHeader.*maxEntries/);
    expect(() => forwardingHeaderReader('x-forwarded-for', { maxBytes: 1.5 })).toThrow(TypeError);
  });

  it('takes limits from 2 to 1024 entries and from 16 to 1048576 characters, the others by default', () => {
    for (const limits of [{ maxEntries: 2 }, { maxEntries: 1024 }, { maxBytes: 16 }, { maxBytes: 1 << 20 }]) {
      expect(() => forwardingHeaderReader('x-forwarded-for', limits), JSON.stringify(limits)).not.toThrow();
    }
    for (const limits of [{ maxEntries: 1 }, { maxEntries: 1025 }, { maxBytes: 15 }, { maxBytes: (1 << 20) + 1 }]) {
      expect(() => forwardingHeaderReader('x-forwarded-for', limits), JSON.stringify(limits)).toThrow(TypeError);
    }
    // the limit not given keeps its default: 32 entries here, 8192 characters below
    const many = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`);
    const got = forwardingHeaderReader('x-forwarded-for', { maxBytes: 1 << 20 })([many.join(',')]);
    expect(got).toEqual([U, ...many.slice(-31)]);
    const padded = ['192.0.2.1', `192.0.2.22${' '.repeat(8200)}`];
    expect(forwardingHeaderReader('x-forwarded-for', { maxEntries: 4 })(padded)).toEqual([U]);
    expect(forwardingHeaderReader('x-forwarded-for', { maxEntries: 4, maxBytes: 1 << 20 })(padded)).toEqual(['192.0.2.1', '192.0.2.22']);
  });

  it('takes any token as a name, `_` included; a name spelled with `_` is another header', () => {
    const reader = forwardingHeaderReader('X_Client_IP');
    expect(reader.headerName).toBe('x_client_ip');
    expect(reader(['192.0.2.1'])).toEqual(['192.0.2.1']);
    expect(headerInstances({ x_forwarded_for: '192.0.2.1' }, 'x-forwarded-for')).toEqual([]);
  });

  it('takes instances from Node header objects', () => {
    expect(headerInstances({ 'x-real-ip': ['192.0.2.1', '192.0.2.2'] }, 'x-real-ip')).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(headerInstances({ 'x-forwarded-for': '192.0.2.1' }, 'x-forwarded-for')).toEqual(['192.0.2.1']);
    expect(headerInstances({}, 'forwarded')).toEqual([]);
  });
});
