/**
 * `ipstamp/hono`: the Hono middleware — verification, the echo and ticket routes,
 * problem+json refusals, and the verdict as `c.get('ipStamp')`. Loads no Hono code at run
 * time (types only); on Node it reads `@hono/node-server`'s socket, elsewhere pass `connection`.
 */
export { ipstamp, ipstamp as default, nodeConnection, type IpStampVariables, type IpStampMiddleware, type StampedHandler } from './middleware.js';
export type { IpStampHonoOptions, IssuerHonoOptions, ConnectionOf } from './options.js';
export type { Reason } from '../../shared/reasons.js';
