import type { Verdict } from '../verify/types.js';
import type { Reason } from '../../shared/reasons.js';

/**
 * `req.ipStamp` for every node:http request type. Express's `Request` extends
 * `http.IncomingMessage`, so Express apps see it too without this file naming Express (a
 * node:http user's types never load @types/express).
 */
declare module 'node:http' {
  interface IncomingMessage {
    /** Set by the ipstamp middleware: the verdict of an accepted stamp; `null` when unstamped on an optional route. */
    ipStamp?: Verdict | null;
    /**
     * Set by a `reportOnly` ipstamp middleware: why the stamp was refused, the request let
     * through unstamped (`ipStamp` null); null when nothing was refused.
     */
    ipStampRefusal?: Reason | null;
  }
}
