import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forwardingHeaderReader } from '../../server/hints/forwarding-header.js';
import { watchOtherForwardingHeader } from '../../server/hints/other-forwarding-header.js';
import { compileTrust } from '../../server/hints/trust.js';

const watch = (forwardedHeader: string, trusted: string[] = ['10.0.0.0/8']) =>
  watchOtherForwardingHeader({ trust: compileTrust(trusted), forwardedHeader: forwardingHeaderReader(forwardedHeader) });

describe('watchOtherForwardingHeader (issue 12, item 6)', () => {
  it('answers for the immediate peer of PROTOCOL §4: l4 when present, else l3 — and only a trusted one', () => {
    const xff = { 'x-forwarded-for': '198.51.100.1' };
    const cases: [string, { l3?: unknown; l4?: unknown }, string | undefined][] = [
      ['a trusted l3', { l3: '10.0.0.1' }, '10.0.0.1'],
      ['a trusted l3 in IPv4-mapped form', { l3: '::ffff:10.0.0.1' }, '10.0.0.1'],
      ['an untrusted l3 (a client sending its own header)', { l3: '198.51.100.1' }, undefined],
      ['an unknown l3', { l3: undefined }, undefined],
      ['an untrusted l3 naming a trusted l4 (a PROXY header it is not believed for)', { l3: '198.51.100.1', l4: '10.0.0.2' }, undefined],
      ['an unknown l3 naming a trusted l4', { l3: undefined, l4: '10.0.0.2' }, undefined],
      ['a trusted l3 passing on an untrusted l4 (the client is the immediate peer)', { l3: '10.0.0.1', l4: '198.51.100.1' }, undefined],
      ['a trusted l3 passing on a trusted l4 (a proxy chain)', { l3: '10.0.0.1', l4: '10.0.0.2' }, '10.0.0.2'],
    ];
    for (const [what, hints, peer] of cases) {
      const finding = watch('forwarded')({ headers: xff, hints });
      expect(finding, what).toEqual(peer === undefined ? undefined : { forwardedHeader: 'forwarded', sent: ['x-forwarded-for'], peer });
    }
  });

  it('fires once per watch, never with the configured header present, and never without trusted proxies', () => {
    const w = watch('x-real-ip');
    const hints = { l3: '10.0.0.1' };
    expect(w({ headers: { 'x-real-ip': '198.51.100.1', forwarded: 'for=198.51.100.1' }, hints })).toBeUndefined();
    expect(w({ headers: {}, hints })).toBeUndefined();
    expect(w({ headers: { forwarded: 'for=198.51.100.1', 'x-forwarded-for': '198.51.100.1' }, hints })).toEqual({
      forwardedHeader: 'x-real-ip',
      sent: ['x-forwarded-for', 'forwarded'],
      peer: '10.0.0.1',
    });
    expect(w({ headers: { forwarded: 'for=198.51.100.1' }, hints })).toBeUndefined();
    // X-Real-IP is one of the headers watched for, too
    expect(watch('x-forwarded-for')({ headers: { 'x-real-ip': '198.51.100.1' }, hints })).toEqual({
      forwardedHeader: 'x-forwarded-for',
      sent: ['x-real-ip'],
      peer: '10.0.0.1',
    });
    expect(watch('forwarded', [])({ headers: { 'x-forwarded-for': '1.2.3.4' }, hints: { l3: '10.0.0.1' } })).toBeUndefined();
  });

  it('whatever the headers and hints, at most one finding per watch, and only for a request without the configured header', () => {
    const name = fc.constantFrom('x-forwarded-for', 'forwarded', 'x-real-ip', 'cf-connecting-ip');
    const address = fc.constantFrom(undefined, '10.0.0.1', '::ffff:10.0.0.9', '198.51.100.1', 'garbage', '0.0.0.0');
    const request = fc.record({
      headers: fc.dictionary(name, fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 }))),
      hints: fc.record({ l3: address, l4: address }, { requiredKeys: ['l3'] }),
    });
    fc.assert(
      fc.property(name, fc.array(request, { maxLength: 12 }), (configured, requests) => {
        const w = watch(configured);
        const findings = requests.map((r) => [r, w(r)] as const).filter(([, f]) => f !== undefined);
        expect(findings.length).toBeLessThanOrEqual(1);
        for (const [r, f] of findings) {
          expect(r.headers[configured]).toBeUndefined();
          expect(f!.sent.length).toBeGreaterThan(0);
          for (const sent of f!.sent) expect(r.headers[sent]).toBeDefined();
        }
      }),
    );
  });
});
