import type { HeaderMap } from './types.js';

/**
 * A Node request as far as the presence of its body goes: node:http's IncomingMessage, or the
 * HTTP/2 compatibility request (whose `stream` is the HTTP/2 stream). Structural, so this layer
 * loads no `node:` module.
 */
export interface BodyFraming {
  readonly headers: HeaderMap;
  readonly httpVersionMajor?: number;
  readonly stream?: { readonly endAfterHeaders?: boolean };
}

/**
 * Does the request carry a body? HTTP/1.1 frames one only with a Content-Length other than 0 or
 * with a Transfer-Encoding (RFC 9112 §6.3). HTTP/2 may send one with neither header, so there a
 * stream the client ended with its headers has none, and so has one that declared
 * `content-length: 0` (its DATA must then be empty: RFC 9113 §8.1.1).
 */
export function requestHasBody(req: BodyFraming): boolean {
  if (req.httpVersionMajor === 2) return req.stream?.endAfterHeaders !== true && req.headers['content-length'] !== '0';
  return headersAnnounceBody(req.headers);
}

/**
 * Do the headers announce a body (a Content-Length other than 0, or a Transfer-Encoding)? For a
 * web `Request` whose `body` is null: a runtime drops a GET's or HEAD's body rather than build
 * a Request with one, and a body it dropped is one nobody read, not an empty one.
 */
export function headersAnnounceBody(headers: HeaderMap): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The body of a request that has none: what `cdg` covers then (PROTOCOL.md §5 step 9). Glue
 * hands this for a bodiless request and `undefined` for a body it did not read, which the
 * verifier must not mistake for an empty one.
 */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);
