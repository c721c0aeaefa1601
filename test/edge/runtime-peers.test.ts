import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bunPeer, cloudflarePeer, denoPeer } from '../../server/edge/runtime-peers.js';

/**
 * The peer presets read one plain address or nothing: whatever else a runtime or a header
 * hands them (a reset connection's null or 0.0.0.0:0, a list, padding) is an unknown peer,
 * which the verifier refuses (ip-unverifiable). They do not parse addresses: the verifier does.
 */
const cf = (value?: string) => cloudflarePeer(new Request('https://api.example/', value === undefined ? {} : { headers: { 'cf-connecting-ip': value } })).l3;
const bun = (info: unknown) => bunPeer(new Request('http://x/'), { requestIP: () => info as never }).l3;
const deno = (remoteAddr: unknown) => denoPeer({ remoteAddr: remoteAddr as never }).l3;

describe('runtime peer presets', () => {
  it('Cloudflare: CF-Connecting-IP, one address, else unknown', () => {
    expect(cf('203.0.113.7')).toBe('203.0.113.7');
    expect(cf('2001:db8::1')).toBe('2001:db8::1');
    for (const value of [undefined, '', '203.0.113.7, 198.51.100.1', '0.0.0.0', '::']) expect(cf(value), String(value)).toBeUndefined();
    // every spelling of the unspecified address, whatever its case
    for (const value of ['0:0:0:0:0:0:0:0', '::ffff:0.0.0.0', '::FFFF:0.0.0.0']) expect(cf(value), value).toBeUndefined();
    expect(bun({ address: '::FFFF:0.0.0.0', port: 1 })).toBeUndefined();
  });

  it('Bun: requestIP, unknown after a reset (null, 0.0.0.0, port 0) or when it throws', () => {
    expect(bun({ address: '127.0.0.2', port: 40000, family: 'IPv4' })).toBe('127.0.0.2');
    expect(bun({ address: '::ffff:127.0.0.2', port: 40000, family: 'IPv6' })).toBe('::ffff:127.0.0.2');
    for (const info of [
      null,
      undefined,
      { address: '0.0.0.0', port: 0 },
      { address: '127.0.0.2', port: 0 },
      { address: '::', port: 1 },
      { address: '', port: 1 },
    ]) {
      expect(bun(info), JSON.stringify(info)).toBeUndefined();
    }
    const throwing = {
      requestIP: () => {
        throw new Error('closed');
      },
    };
    expect(bunPeer(new Request('http://x/'), throwing).l3).toBeUndefined();
  });

  it('Deno: remoteAddr of a TCP (or QUIC) connection, unknown for a Unix socket, no transport or 0.0.0.0:0', () => {
    expect(deno({ transport: 'tcp', hostname: '127.0.0.3', port: 5000 })).toBe('127.0.0.3');
    // HTTP/3 (QUIC) reports its peer over udp
    expect(deno({ transport: 'udp', hostname: '127.0.0.3', port: 4433 })).toBe('127.0.0.3');
    for (const remote of [
      undefined,
      null,
      { transport: 'unix', path: '/tmp/s' },
      { transport: 'unix', hostname: '127.0.0.3', port: 5000 },
      { hostname: '127.0.0.3', port: 5000 },
      { transport: 'tcp', hostname: '0.0.0.0', port: 0 },
      { transport: 'tcp', hostname: '127.0.0.3', port: 0 },
    ]) {
      expect(deno(remote), JSON.stringify(remote)).toBeUndefined();
    }
    expect(denoPeer(undefined as never).l3).toBeUndefined();
  });

  it('passes a value through unchanged or not at all, never anything but address characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (value) => {
        let l3: string | null | undefined;
        try {
          l3 = cf(value);
        } catch {
          return; // a value Headers refuses never reaches a Worker
        }
        const sent = new Headers({ v: value }).get('v')!;
        expect(l3 === undefined || l3 === sent).toBe(true);
        if (l3 !== undefined) expect(l3).toMatch(/^[0-9A-Fa-f.:]+$/);
        expect(bun({ address: value, port: 1 }) === undefined || bun({ address: value, port: 1 }) === value).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
