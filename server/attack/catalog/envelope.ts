import type { Attack } from './types.js';

/** §2 and §5 steps 1–2: the header itself — present, once, bounded, three segments. */
export const envelopeAttacks: readonly Attack[] = [
  {
    name: 'stamp-missing',
    description: 'No Client-IP-Attestation header at all.',
    expect: { reject: true, reason: 'missing' },
    build: (ctx) => ctx.http(undefined),
  },
  {
    name: 'stamp-malformed',
    description: 'A real stamp with its signature segment cut off (two segments).',
    expect: { reject: true, reason: 'malformed' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      return ctx.http(stamp.slice(0, stamp.lastIndexOf('.')));
    },
  },
  {
    name: 'stamp-oversized',
    description: 'A validly signed stamp over 4096 bytes (unknown claims as padding).',
    expect: { reject: true, reason: 'malformed' },
    build: (ctx) => {
      const padding = { pad1: 'A'.repeat(1500), pad2: 'B'.repeat(1500), pad3: 'C'.repeat(1500) };
      return ctx.http(ctx.sign(ctx.header(), ctx.claims({ claims: padding })));
    },
  },
  {
    name: 'stamp-doubled',
    description: 'Two Client-IP-Attestation headers, each a fresh valid stamp (which one would a proxy log?).',
    expect: { reject: true, reason: 'malformed' },
    build: async (ctx) => ctx.http([await ctx.stamp(), await ctx.stamp()]),
  },
];
