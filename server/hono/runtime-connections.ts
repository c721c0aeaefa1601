import { bunPeer, cloudflarePeer, denoPeer, type BunServerLike, type DenoServeInfoLike } from '../edge/runtime-peers.js';
import type { ConnectionOf } from './options.js';

/**
 * The `connection` presets of the Hono middleware, one per runtime (trust model of each:
 * server/edge/runtime-peers.ts and docs/load-balancers.md).
 */

/** Cloudflare Workers: `CF-Connecting-IP`, written by Cloudflare's edge, is the peer. */
export const cloudflareConnection: ConnectionOf = (c) => cloudflarePeer(c.req.raw);

/** Bun (`export default app`, or `Bun.serve({ fetch: app.fetch })`): `server.requestIP(c.req.raw)`. */
export const bunConnection: ConnectionOf = (c) => {
  const env = c.env as (BunServerLike & { server?: BunServerLike }) | undefined;
  const server = env !== undefined && env !== null && 'server' in env && env.server !== undefined ? env.server : env;
  if (typeof server?.requestIP !== 'function') return { l3: undefined };
  return bunPeer(c.req.raw, server);
};

/** Deno (`Deno.serve(app.fetch)`): the handler info's `remoteAddr`. */
export const denoConnection: ConnectionOf = (c) => denoPeer((c.env ?? {}) as DenoServeInfoLike);
