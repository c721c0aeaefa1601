import type { Attack } from './types.js';

/** §5 step 9: a stamp is good for the one request it was made for. Each stamp here is fresh and validly signed. */
export const bindingAttacks: readonly Attack[] = [
  {
    name: 'binding-other-method',
    description: "A stamp made for another method (POST; GET when the route's is another), sent with the route's.",
    expect: { reject: true, reason: 'binding-mismatch' },
    build: async (ctx) => ctx.http(await ctx.stamp({ method: ctx.method === 'GET' ? 'POST' : 'GET', body: ctx.body })),
  },
  {
    name: 'binding-other-path',
    description: 'A stamp made for another path on the same origin.',
    expect: { reject: true, reason: 'binding-mismatch' },
    build: async (ctx) => {
      const other = new URL('/ipstamp-attack/other-path', ctx.target);
      if (other.pathname === ctx.target.pathname) other.pathname = '/ipstamp-attack/another-path';
      return ctx.http(await ctx.stamp({ url: other.href }));
    },
  },
  {
    name: 'binding-other-origin',
    description: 'A stamp made for the same path on another origin (a stamp taken from a request to another site).',
    expect: { reject: true, reason: 'binding-mismatch' },
    build: async (ctx) => {
      const other = new URL(ctx.target.href);
      other.host = 'attacker.example';
      other.protocol = 'https:';
      return ctx.http(await ctx.stamp({ url: other.href }));
    },
  },
  {
    name: 'binding-altered-body',
    description: 'A stamp with a body digest (cdg), sent with another body.',
    expect: { reject: true, reason: 'binding-mismatch' },
    build: async (ctx) => {
      const method = ctx.bodyMethod;
      if (method === undefined) return { skip: `the route's method (${ctx.method}) carries no body` };
      const stamp = await ctx.stamp({ method, body: '{"amount":1}' });
      return ctx.http(stamp, { method, body: '{"amount":1000}', headers: { 'content-type': 'application/json' } });
    },
  },
];
