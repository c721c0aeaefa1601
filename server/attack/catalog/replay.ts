import type { Attack } from './types.js';

/** One stamp, used more than once: the (kid, jti) pair must be consumed at its first use (§5 step 10). */
export const replays: readonly Attack[] = [
  {
    name: 'replay-exact',
    description: 'An accepted stamp sent again, byte for byte.',
    expect: { reject: true, reason: 'replay' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      return [ctx.http(stamp, { setup: true }), ctx.http(stamp)];
    },
  },
  {
    name: 'replay-race',
    description: 'Copies of one fresh stamp sent at the same moment: exactly one may be accepted.',
    expect: { reject: true, reason: 'replay' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      return { race: Array.from({ length: ctx.raceCopies }, () => ctx.http(stamp)) };
    },
  },
  {
    name: 'replay-ecdsa-twin',
    description: 'An accepted ECDSA stamp replayed with its (r, n − s) twin signature, valid but textually new.',
    expect: { reject: true, reason: 'replay' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      const twin = ctx.tamper.ecdsaTwin(stamp, ctx.alg);
      if (twin === undefined) return { skip: `only ECDSA signatures have an (r, n − s) twin; the key is ${ctx.alg}` };
      return [ctx.http(stamp, { setup: true }), ctx.http(twin)];
    },
  },
  {
    name: 'replay-ed25519-twin',
    description: 'An accepted Ed25519 stamp replayed with S + L in its signature (RFC 8032 §5.1.7 requires rejecting it).',
    expect: { reject: true, reason: 'bad-signature' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      const twin = ctx.tamper.ed25519Twin(stamp, ctx.alg);
      if (twin === undefined) return { skip: `only Ed25519 signatures have an S + L twin; the key is ${ctx.alg}` };
      return [ctx.http(stamp, { setup: true }), ctx.http(twin)];
    },
  },
  {
    name: 'replay-flipped-bits',
    description: 'An accepted stamp replayed with the unused bits of its last signature character flipped: same bytes, new text.',
    expect: { reject: true, reason: 'replay' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      const flipped = ctx.tamper.flipUnusedBits(stamp);
      if (flipped === undefined) return { skip: `a ${ctx.alg} signature fills its last base64url character: no unused bits` };
      return [ctx.http(stamp, { setup: true }), ctx.http(flipped)];
    },
  },
];
