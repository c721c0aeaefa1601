import { describe, expect, it } from 'vitest';
import { collectHints } from '../../server/hints/collect.js';
import { forwardingHeaderReader } from '../../server/hints/forwarding-header.js';
import type { ProxyHeader } from '../../server/hints/proxy-header.js';
import { compileTrust } from '../../server/hints/trust.js';

const trust = compileTrust(['10.0.0.0/8', '2001:db8:ffff::/48']);
const proxyFrom = (address: string): ProxyHeader => ({
  version: 2,
  command: 'PROXY',
  family: address.includes(':') ? 'TCP6' : 'TCP4',
  source: { address, port: 50000 },
  tlvs: { raw: [] },
  length: 28,
});
const local: ProxyHeader = { version: 2, command: 'LOCAL', family: 'UNSPEC', tlvs: { raw: [] }, length: 16 };
const U = undefined;

describe('collectHints', () => {
  it.each([
    [
      'a direct client: its headers are ignored',
      { l3: '192.0.2.7', headerValues: ['198.51.100.1'] },
      { l3: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l3' },
    ],
    [
      'Node writes IPv4 peers as mapped IPv6',
      { l3: '::ffff:192.0.2.7', headerValues: [] },
      { l3: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l3' },
    ],
    [
      'behind a trusted proxy: the entry it appended',
      { l3: '10.0.0.1', headerValues: ['198.51.100.1, 192.0.2.7'] },
      { l3: '10.0.0.1', l7: ['198.51.100.1', '192.0.2.7'], observed: '192.0.2.7', decidedBy: 'l7' },
    ],
    [
      'two trusted proxies',
      { l3: '10.0.0.1', headerValues: ['192.0.2.7, 10.0.0.2'] },
      { l3: '10.0.0.1', l7: ['192.0.2.7', '10.0.0.2'], observed: '192.0.2.7', decidedBy: 'l7' },
    ],
    [
      'PROXY header from a trusted peer: l4 wins, forged XFF ignored',
      { l3: '10.0.0.1', l4: proxyFrom('192.0.2.7'), headerValues: ['198.51.100.1'] },
      { l3: '10.0.0.1', l4: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l4' },
    ],
    [
      'PROXY header from an untrusted peer counts for nothing',
      { l3: '192.0.2.7', l4: proxyFrom('198.51.100.1'), headerValues: [] },
      { l3: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l3' },
    ],
    [
      'PROXY source is itself a trusted proxy: read its XFF',
      { l3: '10.0.0.1', l4: proxyFrom('2001:db8:ffff::9'), headerValues: ['192.0.2.7'] },
      { l3: '10.0.0.1', l4: '2001:db8:ffff::9', l7: ['192.0.2.7'], observed: '192.0.2.7', decidedBy: 'l7' },
    ],
    [
      'LOCAL (a health check): no l4, l3 is the immediate peer',
      { l3: '10.0.0.1', l4: local, headerValues: ['192.0.2.7'] },
      { l3: '10.0.0.1', l7: ['192.0.2.7'], observed: '192.0.2.7', decidedBy: 'l7' },
    ],
    ['every address trusted: unknown', { l3: '10.0.0.1', headerValues: ['10.0.0.3'] }, { l3: '10.0.0.1', l7: ['10.0.0.3'] }],
    ['no header behind a trusted proxy: unknown', { l3: '10.0.0.1', headerValues: [] }, { l3: '10.0.0.1', l7: [] }],
    [
      'an invalid entry stops the walk',
      { l3: '10.0.0.1', headerValues: ['192.0.2.7, unknown, 10.0.0.2'] },
      { l3: '10.0.0.1', l7: ['192.0.2.7', U, '10.0.0.2'] },
    ],
    [
      'an invalid entry left of the client does not matter',
      { l3: '10.0.0.1', headerValues: ['garbage, 192.0.2.7'] },
      { l3: '10.0.0.1', l7: [U, '192.0.2.7'], observed: '192.0.2.7', decidedBy: 'l7' },
    ],
    ['no socket address: unknown', { l3: undefined, headerValues: ['192.0.2.7'] }, { l7: [] }],
    [
      'an l4 given as text is canonicalized like every hint',
      { l3: '10.0.0.1', l4: '::ffff:192.0.2.7', headerValues: ['198.51.100.1'] },
      { l3: '10.0.0.1', l4: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l4' },
    ],
    [
      'an l4 text that is no address: an invalid entry, not an absent l4 — the forwarding header stays unread',
      { l3: '10.0.0.1', l4: 'unknown', headerValues: ['192.0.2.7'] },
      { l3: '10.0.0.1', l7: [] },
    ],
  ] as const)('%s', (_name, input, expected) => {
    expect(collectHints({ ...input, trust })).toEqual(expected);
  });

  it('observed and decidedBy are present exactly when the client is known', () => {
    const unknown = collectHints({ l3: '10.0.0.1', headerValues: ['10.0.0.3'], trust });
    expect('observed' in unknown || 'decidedBy' in unknown).toBe(false);
    const known = collectHints({ l3: '10.0.0.1', headerValues: ['192.0.2.7'], trust });
    expect(known).toMatchObject({ observed: '192.0.2.7', decidedBy: 'l7' });
  });

  it('reads the one configured header', () => {
    const base = { l3: '10.0.0.1', trust };
    expect(collectHints({ ...base, headerValues: ['for=192.0.2.7'], forwardedHeader: 'forwarded' }).observed).toBe('192.0.2.7');
    expect(collectHints({ ...base, headerValues: ['192.0.2.7'], forwardedHeader: 'X-Real-IP' }).observed).toBe('192.0.2.7');
    expect(collectHints({ ...base, headerValues: ['192.0.2.7', '192.0.2.8'], forwardedHeader: 'x-real-ip' }).observed).toBeUndefined();
    const reader = forwardingHeaderReader('cf-connecting-ip');
    expect(collectHints({ ...base, headerValues: ['[2001:db8::7]'], forwardedHeader: reader }).observed).toBe('2001:db8::7');
  });
});
