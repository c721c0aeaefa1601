import type { Attack } from './types.js';

/**
 * Legitimate requests. If the target refuses these, every rejection below proves nothing:
 * a verifier that refuses everything "passes" every attack.
 */
export const controls: readonly Attack[] = [
  {
    name: 'control-get',
    description: "A fresh stamp from the real client stamper on the route's request (GET unless --method), with the key's own alg.",
    expect: { accept: true },
    build: async (ctx) => ctx.http(await ctx.stamp()),
  },
  {
    name: 'control-post-digest',
    description: "A fresh stamp with a body digest (cdg) on a POST (or the route's POST-like method) with a JSON body.",
    expect: { accept: true },
    build: async (ctx) => {
      const method = ctx.bodyMethod;
      if (method === undefined) return { skip: `the route's method (${ctx.method}) carries no body to digest` };
      const body = '{"ipstamp":"control"}';
      const stamp = await ctx.stamp({ method, body });
      return ctx.http(stamp, { method, body, headers: { 'content-type': 'application/json' } });
    },
  },
  {
    name: 'control-harness-signer',
    description: "A legitimate stamp made by the harness's own raw signer, the one the forged stamps below come from.",
    expect: { accept: true },
    build: (ctx) => ctx.http(ctx.sign(ctx.header(), ctx.claims())),
  },
];
