import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { originFromHost } from '../../shared/htu.js';

/**
 * PROTOCOL §5.1: the Host-based origin is the Host lower-cased with the scheme's default port
 * dropped — nothing more. WHATWG URL would also decode, map and rewrite, so one spelling stood
 * for another (review of 2026-12-06): `api%2eexample.com` bound to a stamp for api.example.com.
 */
describe('originFromHost', () => {
  it.each([
    ['api.example.com', 'http', 'http://api.example.com'],
    ['API.Example.COM', 'https', 'https://api.example.com'],
    ['api.example.com:80', 'http', 'http://api.example.com'],
    ['api.example.com:443', 'https', 'https://api.example.com'],
    ['api.example.com:443', 'http', 'http://api.example.com:443'],
    ['api.example.com:8443', 'https', 'https://api.example.com:8443'],
    ['127.0.0.1:3000', 'http', 'http://127.0.0.1:3000'],
    ['[2001:db8::1]:8080', 'http', 'http://[2001:db8::1]:8080'],
    ['[2001:DB8::1]', 'https', 'https://[2001:db8::1]'],
    ['xn--bcher-kva.example', 'https', 'https://xn--bcher-kva.example'],
  ] as const)('%s over %s is %s', (host, scheme, origin) => {
    expect(originFromHost(host, scheme)).toBe(origin);
  });

  it.each([
    'api%2eexample.com',
    'ap%69.example.com',
    'api.example.com:',
    'api.example.com:0080',
    'ＡＰＩ.example.com',
    'api.exa\u00admple.com',
    'bücher.example',
    '0xc0.0.2.1',
    '3221225985',
    '0300.0.2.1',
    '192.0.2.01',
    '[2001:db8:0:0::1]',
    '',
    'a b',
    'user@api.example.com',
  ])('%s names no origin', (host) => {
    expect(originFromHost(host, 'https')).toBeUndefined();
  });

  it('an origin it names is the Host as written, lower-cased, less the default port', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.constantFrom('http', 'https') as fc.Arbitrary<'http' | 'https'>, (host, scheme) => {
        const origin = originFromHost(host, scheme);
        if (origin === undefined) return;
        const written = host.toLowerCase();
        const port = scheme === 'http' ? ':80' : ':443';
        expect([`${scheme}://${written}`, `${scheme}://${written}`.replace(new RegExp(`${port}$`), '')]).toContain(origin);
      }),
      { numRuns: 2000 },
    );
  });
});
