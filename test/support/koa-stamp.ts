import type { Middleware } from 'koa';
import type { IpStampMiddleware } from '../../server/node/index.js';

/**
 * The Koa recipe of docs/node.md#koa, line for line in TypeScript: ipstamp/node's middleware
 * as a Koa middleware. Accepted → `ctx.state.ipStamp`, then on down the chain. Refused (or the
 * echo route answered) → ipstamp wrote the answer on `ctx.res` and never calls back, so the
 * response's `'close'` ends this middleware, and `ctx.respond = false` keeps Koa from writing a
 * second answer. An error ipstamp passes on (a throwing verifier) becomes Koa's error. `htu` is
 * checked against `req.originalUrl`, set from Koa's: the URL as received, even where koa-mount
 * has rewritten `ctx.path` (and so `req.url`) for a mounted app.
 */
export function koaStamp(stamp: IpStampMiddleware): Middleware {
  return (ctx, next) =>
    new Promise<void>((resolve, reject) => {
      const answered = (): void => {
        ctx.respond = false;
        resolve();
      };
      ctx.res.once('close', answered);
      (ctx.req as { originalUrl?: string }).originalUrl = ctx.originalUrl;
      stamp(ctx.req, ctx.res, (error) => {
        ctx.res.off('close', answered);
        if (error) return reject(error as Error);
        ctx.state.ipStamp = ctx.req.ipStamp;
        next().then(resolve, reject); // settled already if the client left: a late error stays handled
      });
    });
}
