import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { networkHints, walkedHints } from '../../server/verify/network-hints.js';
import { compileOptions } from '../../server/verify/options.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

/**
 * networkHints answers an untrusted peer without the general walk. It must give what the
 * walk gives — collectHints, as the verifier used it before — for every peer, PROXY source,
 * forwarding header and trust setting.
 */
const RUNS = { numRuns: 1500 };
const store = { insertIfAbsent: () => true };
const keys = { keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'k', alg: 'HS256' }] };
const SETTINGS = [
  compileOptions({ keys, replayStore: store }, nodePlatform),
  compileOptions({ keys, replayStore: store, trustedProxies: 'loopback' }, nodePlatform),
  compileOptions({ keys, replayStore: store, trustedProxies: ['private', '192.0.2.0/28'], forwardedHeader: 'forwarded' }, nodePlatform),
  compileOptions({ keys, replayStore: store, trustedProxies: ['0.0.0.0/0', '::/0'], forwardedHeader: 'x-real-ip' }, nodePlatform),
];

const reference = walkedHints;

const address = fc.oneof(
  fc.constantFrom(
    '127.0.0.1',
    '::ffff:127.0.0.1',
    '::1',
    '10.1.2.3',
    '192.0.2.5',
    '192.0.2.77',
    '2001:db8::7',
    '0.0.0.0',
    '::',
    'fe80::1%eth0',
    '[2001:db8::1]:443',
    '1.2.3.4:80',
    'unknown',
    '',
  ),
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 12 }),
);
const headerValue = fc.oneof(
  fc.array(address, { maxLength: 4 }).map((list) => list.join(', ')),
  fc.array(address, { maxLength: 3 }).map((list) => list.map((a) => `for="${a}"`).join(', ')),
  fc.string({ maxLength: 30 }),
);
const input = fc.record({
  hints: fc.record(
    {
      l3: fc.option(address, { nil: undefined }),
      l4: fc.option(address, { nil: undefined }),
      proxy: fc.option(fc.constant({ version: 2 }), { nil: undefined }),
    },
    { requiredKeys: ['l3'] },
  ),
  headers: fc.record(
    {
      'x-forwarded-for': fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 2 })),
      forwarded: headerValue,
      'x-real-ip': fc.oneof(address, fc.array(address, { minLength: 1, maxLength: 2 })),
    },
    { requiredKeys: [] },
  ),
});

describe('networkHints', () => {
  it('gives the general walk’s answer for every peer, header and trust setting', () => {
    fc.assert(
      fc.property(input, fc.nat(SETTINGS.length - 1), (request, which) => {
        const opts = SETTINGS[which]!;
        expect(networkHints(request, opts)).toStrictEqual(reference(request, opts));
      }),
      RUNS,
    );
  });
});

describe('walkedHints', () => {
  it('gives an invalid forwarding entry as null, so the hints read the same after a JSON round trip', () => {
    const request = { hints: { l3: '127.0.0.1' }, headers: { 'x-forwarded-for': 'unknown, 192.0.2.7, garbage' } };
    const hints = walkedHints(request, SETTINGS[1]!);
    expect(hints.l7).toStrictEqual([null, '192.0.2.7', null]);
    expect(JSON.parse(JSON.stringify(hints.l7))).toStrictEqual(hints.l7);
  });

  it('never reads X_Forwarded_For for X-Forwarded-For: behind a trusted peer the client stays unknown', () => {
    const request = { hints: { l3: '127.0.0.1' }, headers: { x_forwarded_for: '192.0.2.7' } };
    expect(walkedHints(request, SETTINGS[1]!)).toMatchObject({ l3: '127.0.0.1', l7: [], observed: undefined });
  });
});
