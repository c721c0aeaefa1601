import { parseIPv6 } from '../../../shared/index.js';
import type { Attack, AttackContext } from './types.js';

/**
 * Attacks on §2.2 and §5 steps 6–8. Offsets are two days: beyond the largest maxAge and skew
 * a verifier may be configured with (86400 s), so no legitimate setting accepts them.
 */
const TWO_DAYS = 172_800;

/** The claims as JSON text with `ip` twice; `callerLast` puts the caller's address where JSON.parse looks. */
function duplicateIpPayload(ctx: AttackContext, callerLast: boolean): string {
  const { ip: _ip, ...rest } = ctx.claims();
  const members = Object.entries(rest).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const [first, last] = callerLast ? [ctx.spoofedIp, ctx.ip] : [ctx.ip, ctx.spoofedIp];
  return `{"ip":${JSON.stringify(first)},${members.join(',')},"ip":${JSON.stringify(last)}}`;
}

/** The caller's address in a form that is the same address but not canonical text (§3). */
function nonCanonical(ip: string): string {
  const groups = ip.includes(':') ? parseIPv6(ip) : undefined;
  if (groups === undefined) return `::ffff:${ip}`;
  return groups.map((g) => g.toString(16).padStart(4, '0').toUpperCase()).join(':');
}

export const claimAttacks: readonly Attack[] = [
  {
    name: 'expired',
    description: 'Signed correctly, but issued two days ago.',
    expect: { reject: true, reason: 'expired' },
    build: (ctx) => ctx.http(ctx.sign(ctx.header(), ctx.claims({ claims: { iat: ctx.now() - TWO_DAYS } }))),
  },
  {
    name: 'iat-in-future',
    description: 'Issued two days from now: a stamp minted early to be used later.',
    expect: { reject: true, reason: 'not-yet-valid' },
    build: (ctx) => ctx.http(ctx.sign(ctx.header(), ctx.claims({ claims: { iat: ctx.now() + TWO_DAYS } }))),
  },
  {
    name: 'exp-beyond-max-age',
    description: 'An exp two days after iat, asking for a lifetime beyond the allowed age.',
    expect: { reject: true, reason: 'bad-claims' },
    build: (ctx) => {
      const iat = ctx.now();
      return ctx.http(ctx.sign(ctx.header(), ctx.claims({ claims: { iat, exp: iat + TWO_DAYS } })));
    },
  },
  {
    name: 'payload-duplicate-ip-last',
    description: 'The claims name ip twice, a foreign address first and the caller last (where JSON.parse looks).',
    expect: { reject: true, reason: 'bad-claims' },
    tags: ['ip'],
    build: (ctx) => ctx.http(ctx.sign(ctx.header(), duplicateIpPayload(ctx, true))),
  },
  {
    name: 'payload-duplicate-ip-first',
    description: 'The claims name ip twice, the caller first and a foreign address last.',
    expect: { reject: true, reason: 'bad-claims' },
    tags: ['ip'],
    build: (ctx) => ctx.http(ctx.sign(ctx.header(), duplicateIpPayload(ctx, false))),
  },
  {
    name: 'ip-not-canonical',
    description: "The caller's own address written non-canonically (IPv4-mapped, or uncompressed IPv6).",
    expect: { reject: true, reason: 'bad-claims' },
    build: (ctx) => ctx.http(ctx.sign(ctx.header(), ctx.claims({ claims: { ip: nonCanonical(ctx.ip) } }))),
  },
];
