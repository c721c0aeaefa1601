import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTrust } from '../../server/hints/trust.js';
import { bindingMatches } from '../../server/verify/binding.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { normalizeOrigin, originFromHost } from '../../shared/htu.js';

/**
 * Step 9 compares in place and remembers Host → origin answers (the last one first). Over
 * sequences of requests that switch host, scheme, path and query, it must answer as the plain
 * comparison does, with no memory at all. The peer is no proxy of ours, so the scheme is the
 * connection's (`protocol`): which evidence wins is test/verify/scheme.test.ts.
 */
const RUNS = { numRuns: 1000 };
const hints = { l3: '192.0.2.7', l4: undefined, l7: [] };
const opts = (origins: Set<string> | undefined) => ({
  origins,
  requireBodyDigest: false,
  trust: compileTrust([]),
  protoHeader: undefined,
  platform: nodePlatform,
});

function reference(
  claims: { htm: string; htu: string },
  input: { method: string; url: string; headers: { host?: string }; protocol?: 'http' | 'https' },
  origins?: Set<string>,
): boolean {
  if (claims.htm !== input.method) return false;
  const query = input.url.indexOf('?');
  const path = query === -1 ? input.url : input.url.slice(0, query);
  const pathStart = claims.htu.indexOf('/', claims.htu.indexOf('://') + 3);
  if (pathStart === -1 || claims.htu.slice(pathStart) !== path) return false;
  const origin = claims.htu.slice(0, pathStart);
  if (origins) return origins.has(origin);
  const host = input.headers.host;
  return typeof host === 'string' && originFromHost(host, input.protocol ?? 'http') === origin;
}

const host = fc.constantFrom(
  'api.example.com',
  'API.example.com',
  'api.example.com:443',
  'api.example.com:80',
  'api.example.com:8443',
  '127.0.0.1:3000',
  '[::1]:3000',
  'a b',
  '',
  'x/y',
  'evil.example',
);
const origin = fc.constantFrom(
  'http://api.example.com',
  'https://api.example.com',
  'https://api.example.com:8443',
  'http://127.0.0.1:3000',
  'http://[::1]:3000',
  'https://evil.example',
);
const path = fc.constantFrom('/', '/orders', '/orders/1', '/a,b', '/%20', '');
const request = fc.record({
  claims: fc.record({ htm: fc.constantFrom('GET', 'POST'), htu: fc.tuple(origin, path).map(([o, p]) => `${o}${p}`) }),
  input: fc.record({
    method: fc.constantFrom('GET', 'POST'),
    url: fc.tuple(path, fc.constantFrom('', '?', '?a=1', '?x=/orders')).map(([p, q]) => `${p}${q}`),
    headers: fc.record({ host }, { requiredKeys: [] }),
    protocol: fc.constantFrom<'http' | 'https' | undefined>('http', 'https', undefined),
    hints: fc.constant({ l3: '192.0.2.7' }),
  }),
});

describe('bindingMatches', () => {
  it('answers like the plain comparison over sequences of requests (Host from the request)', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 20 }), (requests) => {
        for (const { claims, input } of requests) {
          expect(bindingMatches(claims, input, opts(undefined), hints)).toBe(reference(claims, input));
        }
      }),
      RUNS,
    );
  });

  it('answers like the plain comparison with pinned origins', () => {
    const origins = new Set(['https://api.example.com', 'http://127.0.0.1:3000'].map((o) => normalizeOrigin(o)!));
    fc.assert(
      fc.property(request, ({ claims, input }) => {
        expect(bindingMatches(claims, input, opts(origins), hints)).toBe(reference(claims, input, origins));
      }),
      RUNS,
    );
  });

  it("reads an HTTP/2 request's :authority as its Host; a Host beside it must say the same", () => {
    const claims = { htm: 'GET', htu: 'http://api.example.com/orders' };
    const bound = (headers: Record<string, string>) =>
      bindingMatches(claims, { method: 'GET', url: '/orders', headers, hints: { l3: '192.0.2.7' } }, opts(undefined), hints);
    expect(bound({ ':authority': 'api.example.com' })).toBe(true);
    expect(bound({ ':authority': 'API.example.com:80' })).toBe(true);
    expect(bound({ ':authority': 'api.example.com', host: 'api.example.com' })).toBe(true);
    expect(bound({ ':authority': 'api.example.com', host: 'API.Example.com' })).toBe(true);
    expect(bound({ ':authority': 'api.example.com', host: 'api.example.com:80' })).toBe(false);
    expect(bound({ ':authority': 'api.example.com', host: 'evil.example' })).toBe(false);
    expect(bound({ ':authority': 'evil.example', host: 'api.example.com' })).toBe(false);
    expect(bound({ ':authority': 'evil.example' })).toBe(false);
    expect(bound({ host: 'api.example.com' })).toBe(true);
  });

  it('checks cdg against the bytes given, and a body not given (unknown) against nothing: never as an empty body', () => {
    const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64url');
    const bound = { htm: 'POST', htu: 'http://api.example.com/orders' };
    const base = { method: 'POST', url: '/orders', headers: { host: 'api.example.com' }, hints: { l3: '192.0.2.7' } };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (signed, sent) => {
        const claims = { ...bound, cdg: digest(signed) };
        expect(bindingMatches(claims, { ...base, body: sent }, opts(undefined), hints)).toBe(Buffer.from(signed).equals(Buffer.from(sent)));
        expect(bindingMatches(claims, { ...base, body: undefined }, opts(undefined), hints)).toBe(false);
        expect(bindingMatches(claims, base, opts(undefined), hints)).toBe(false);
      }),
      RUNS,
    );
  });
});
