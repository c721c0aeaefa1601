import { canonicalAddress } from '../../../shared/index.js';
import { encodeProxyV1, encodeProxyV2, type ProxyEndpointSpec } from './proxy-header-bytes.js';
import type { Attack, AttackContext, RawConnection } from './types.js';

/**
 * §5 step 12 and §4: an ip claim that is not the caller's. The key holder signs it, so only
 * the network can contradict it — these pass against `onMismatch: 'reject'` only.
 */

const spoofed = (name: string, description: string, headers: (ctx: AttackContext) => Record<string, string>): Attack => ({
  name,
  description,
  expect: { reject: true, reason: 'ip-mismatch' },
  tags: ['ip'],
  build: async (ctx) => ctx.http(await ctx.stamp({ claims: { ip: ctx.spoofedIp } }), { headers: headers(ctx) }),
});

const forwardedFor = (ip: string): string => (ip.includes(':') ? `for="[${ip}]"` : `for=${ip}`);

/** Spoofed source of the connection's own family, as a PROXY header must have. */
const SPOOF_V4 = '203.0.113.9';
const SPOOF_V6 = '2001:db8::9';

const viaProxyHeader = (version: 1 | 2): Attack => ({
  name: `proxy-v${version}-spoofed`,
  description: `A PROXY protocol v${version} header sent by the harness itself, claiming another source, then a stamp with that address.`,
  // §4: a PROXY header from a peer outside trustedProxies closes the connection, unparsed
  expect: { reject: true, reason: 'closed' },
  tags: ['ip'],
  build: async (ctx) => {
    const stamps = {
      v4: await ctx.stamp({ claims: { ip: SPOOF_V4 } }),
      v6: await ctx.stamp({ claims: { ip: SPOOF_V6 } }),
    };
    const isV6 = (conn: RawConnection): boolean => canonicalAddress(conn.remoteAddress)?.includes(':') === true;
    return {
      kind: 'raw',
      bytes: (conn) => {
        const source: ProxyEndpointSpec = { address: isV6(conn) ? SPOOF_V6 : SPOOF_V4, port: 51234 };
        const destination: ProxyEndpointSpec = { address: conn.remoteAddress, port: conn.remotePort };
        return version === 1 ? encodeProxyV1(source, destination) : encodeProxyV2(source, destination);
      },
      http: (conn) => ctx.httpText(isV6(conn) ? stamps.v6 : stamps.v4),
    };
  },
});

export const networkAttacks: readonly Attack[] = [
  spoofed('ip-spoofed', "A validly signed stamp whose ip is not the caller's, nothing else.", () => ({})),
  spoofed('ip-spoofed-xff', 'A stamp claiming a foreign ip, with a matching X-Forwarded-For the caller wrote itself.', (ctx) => ({
    'x-forwarded-for': ctx.spoofedIp,
  })),
  spoofed('ip-spoofed-forwarded', 'A stamp claiming a foreign ip, with a matching RFC 7239 Forwarded header.', (ctx) => ({
    forwarded: forwardedFor(ctx.spoofedIp),
  })),
  spoofed('ip-spoofed-x-real-ip', 'A stamp claiming a foreign ip, with matching X-Real-IP and CF-Connecting-IP headers.', (ctx) => ({
    'x-real-ip': ctx.spoofedIp,
    'cf-connecting-ip': ctx.spoofedIp,
  })),
  viaProxyHeader(1),
  viaProxyHeader(2),
];
