import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forwardedScheme, parseForwardedProto, parseXForwardedProto, schemeOf, type Scheme } from '../../server/hints/forwarded-proto.js';
import { networkHints } from '../../server/verify/network-hints.js';
import { compileOptions } from '../../server/verify/options.js';
import { requestScheme } from '../../server/verify/scheme.js';
import type { HeaderMap } from '../../server/verify/types.js';
import { MapReplayStore } from '../support/map-store.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

const RUNS = { numRuns: 500 };

// what a client can type into a header: the syntax characters on purpose, and anything at all
const headerish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'",;=\\ \tprotoPROTOforhtpsHTPS:/'.split('')), maxLength: 80 }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('"', 'proto="', 'proto=https;proto=', ',', 'https,', ' https , http '),
  fc.string({ unit: fc.constantFrom('h', 't', 'p', 's', ',', ' '), minLength: 9000, maxLength: 12000 }),
);
const scheme = fc.constantFrom<Scheme>('http', 'https');
/** A scheme as a proxy may spell it: any case, optional whitespace around. */
const spelledScheme = fc
  .tuple(scheme, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.constantFrom('', ' ', '\t', '  '), fc.constantFrom('', ' ', '\t'))
  .map(([s, upper, before, after]) => ({ scheme: s, text: `${before}${[...s].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('')}${after}` }));

describe('protocol-header parsers never throw and only return http, https or undefined', () => {
  it.each([
    ['x-forwarded-proto', parseXForwardedProto],
    ['forwarded', parseForwardedProto],
  ] as const)('%s', (_name, parse) => {
    fc.assert(
      fc.property(fc.array(headerish, { maxLength: 4 }), (values) => {
        const entries = parse(values);
        expect(entries.length).toBeLessThanOrEqual(32);
        for (const entry of entries) expect([undefined, 'http', 'https']).toContain(entry);
      }),
      RUNS,
    );
  });
});

describe('X-Forwarded-Proto reads element by element', () => {
  it('each comma-separated element is its scheme, or undefined when it is not exactly one', () => {
    const element = fc.oneof(
      spelledScheme.map((s) => ({ text: s.text, expected: s.scheme as Scheme | undefined })),
      fc
        .string({ unit: fc.constantFrom(...'htpsHTPSwx :;="'.split('')), maxLength: 8 })
        .map((text) => ({ text, expected: schemeOf(text.replace(/^[ \t]+|[ \t]+$/g, '')) })),
    );
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 10 }), fc.boolean(), (elements, separate) => {
        const values = separate ? elements.map((e) => e.text) : [elements.map((e) => e.text).join(',')];
        expect(parseXForwardedProto(values)).toEqual(elements.map((e) => e.expected));
      }),
      RUNS,
    );
  });
});

describe('what trusted hops wrote wins over any client-written prefix', () => {
  const opts = compileOptions({ keys: { keys: [] }, replayStore: new MapReplayStore(), trustedProxies: '10.0.0.0/8' }, nodePlatform);
  const forwardedOpts = compileOptions(
    { keys: { keys: [] }, replayStore: new MapReplayStore(), trustedProxies: '10.0.0.0/8', forwardedHeader: 'forwarded' },
    nodePlatform,
  );

  // the client at 192.0.2.7 reaches the edge over `schemes[0]`; hop i forwards to hop i+1 over
  // schemes[i+1]; every hop appends its peer and the scheme it saw, and the last one is our peer
  const chain = fc.record({
    prefix: headerish,
    hops: fc.integer({ min: 1, max: 4 }),
    schemes: fc.array(spelledScheme, { minLength: 4, maxLength: 4 }),
    separate: fc.boolean(),
    tls: fc.boolean(),
  });

  it('X-Forwarded-Proto appended by every trusted hop: the edge’s entry (the client’s connection)', () => {
    fc.assert(
      fc.property(chain, ({ prefix, hops, schemes, separate, tls }) => {
        const peers = ['192.0.2.7', ...Array.from({ length: hops - 1 }, (_, i) => `10.0.0.${i + 2}`)];
        const written = schemes.slice(0, hops).map((s) => s.text);
        const join = (list: string[]) => (separate ? list : [list.join(', ')]);
        const headers: HeaderMap = { 'x-forwarded-for': join(['198.51.100.1', ...peers]), 'x-forwarded-proto': join([prefix, ...written]) };
        const input = { headers, hints: { l3: '10.0.0.1', tls } };
        expect(requestScheme(input, networkHints(input, opts), opts)).toEqual({ scheme: schemes[0]!.scheme, from: 'proto-header' });
      }),
      RUNS,
    );
  });

  it('X-Forwarded-Proto replaced by each hop (one entry): that entry', () => {
    fc.assert(
      fc.property(chain, ({ hops, schemes, tls }) => {
        const peers = ['192.0.2.7', ...Array.from({ length: hops - 1 }, (_, i) => `10.0.0.${i + 2}`)];
        const headers: HeaderMap = { 'x-forwarded-for': peers.join(', '), 'x-forwarded-proto': schemes[0]!.text };
        const input = { headers, hints: { l3: '10.0.0.1', tls } };
        expect(requestScheme(input, networkHints(input, opts), opts).scheme).toBe(schemes[0]!.scheme);
      }),
      RUNS,
    );
  });

  it('Forwarded: the proto= of the element whose for= is the client', () => {
    fc.assert(
      fc.property(chain, ({ prefix, hops, schemes, separate, tls }) => {
        const peers = ['192.0.2.7', ...Array.from({ length: hops - 1 }, (_, i) => `10.0.0.${i + 2}`)];
        const elements = peers.map((p, i) => (i % 2 ? `proto=${schemes[i]!.text.trim()};for=${p}` : `for=${p};proto="${schemes[i]!.text.trim()}"`));
        const headers: HeaderMap = { forwarded: separate ? [prefix, ...elements] : [[prefix, ...elements].join(', ')] };
        const input = { headers, hints: { l3: '10.0.0.1', tls } };
        expect(requestScheme(input, networkHints(input, forwardedOpts), forwardedOpts)).toEqual({ scheme: schemes[0]!.scheme, from: 'proto-header' });
      }),
      RUNS,
    );
  });

  it('from an untrusted peer nothing of it counts: the connection decides', () => {
    fc.assert(
      fc.property(fc.array(headerish, { maxLength: 3 }), fc.boolean(), (values, tls) => {
        const input = { headers: { 'x-forwarded-proto': values, forwarded: values }, hints: { l3: '192.0.2.7', tls } };
        for (const o of [opts, forwardedOpts]) {
          expect(requestScheme(input, networkHints(input, o), o)).toEqual({ scheme: tls ? 'https' : 'http', from: 'connection' });
        }
      }),
      RUNS,
    );
  });

  it('forwardedScheme never reaches further left than the trusted writers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Scheme | undefined>('http', 'https', undefined), { maxLength: 12 }),
        fc.integer({ min: 0, max: 14 }),
        (entries, writers) => {
          const found = forwardedScheme(entries, writers);
          if (writers === 0 || entries.length === 0) expect(found).toBeUndefined();
          else expect(found).toBe(entries[Math.max(0, entries.length - writers)]);
        },
      ),
      RUNS,
    );
  });
});
