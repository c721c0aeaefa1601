/**
 * `ipstamp/node`: connect-style middleware for node:http, Express 4 and 5 — verification,
 * the echo and ticket routes, problem+json refusals, `req.ipStamp` on `http.IncomingMessage`.
 * The connection helpers a server needs with it are re-exported from `ipstamp/server`.
 */
import './types.js';

export {
  ipstamp,
  ipstamp as default,
  type IpStampMiddleware,
  type IpStampNodeMiddleware,
  type IpStampUpgradingMiddleware,
  type IpStampMiddlewareOptions,
  type IssuerMiddlewareOptions,
} from './middleware.js';
export { rawBodyVerify } from './raw-body.js';
export type { VerifyUpgrade } from './upgrade.js';
export { trackPeerAddresses, peerAddressOf } from '../hints/peer-address.js';
export { continueWhenBodyRead } from '../hints/expect-continue.js';
export type { Verdict } from '../verify/types.js';
export type { Reason } from '../../shared/reasons.js';
