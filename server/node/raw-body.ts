import type { IncomingMessage } from 'node:http';
import { stampDeclaresBodyDigest } from '../jws/compact.js';
import { EMPTY_BODY, requestHasBody } from '../verify/request-body.js';

export { stampDeclaresBodyDigest };

/**
 * The exact body bytes of a request, for the `cdg` check (PROTOCOL.md §2.2), handed over by
 * whoever read the body — never read a second time by the middleware.
 *
 * With Express, `rawBodyVerify` is the `verify` hook of `express.json()`, `express.raw()`,
 * `express.text()` or `express.urlencoded()`: the parser already holds the body as one Buffer
 * (within its own `limit`), and the middleware keeps a reference to it, no copy. A parser's
 * `verify` sees the body after it decoded a `Content-Encoding`, so for an encoded body those
 * are not the bytes the client signed: the hook records the body as unknown and a stamp with
 * `cdg` is refused (`binding-mismatch`), never checked against the decoded bytes.
 */
const bodies = new WeakMap<IncomingMessage, Uint8Array | 'encoded'>();

/**
 * `express.json({ verify: rawBodyVerify })` (or raw/text/urlencoded): records the bytes as
 * received for the ipstamp middleware, which must run after the parser. With plain node:http,
 * call it yourself with the bytes you read: `rawBodyVerify(req, res, body)`.
 */
export function rawBodyVerify(req: IncomingMessage, _res: unknown, body: Uint8Array): void {
  bodies.set(req, isIdentityEncoded(req) ? body : 'encoded');
}

function isIdentityEncoded(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding === undefined || encoding.trim().toLowerCase() === 'identity' || encoding.trim() === '';
}

/**
 * The bytes the verifier hashes: empty for a request without a body; the recorded bytes;
 * else `undefined` — unknown (no parser recorded them, or they were decoded), and the core
 * refuses a `cdg` it cannot check against the bytes as received.
 */
export function rawBodyOf(req: IncomingMessage): Uint8Array | undefined {
  const recorded = bodies.get(req);
  if (recorded === 'encoded') return undefined;
  if (recorded !== undefined) return recorded;
  return requestHasBody(req) ? undefined : EMPTY_BODY;
}

/**
 * Reads a small body the middleware itself owns (the ticket route), up to `limit` bytes.
 * Resolves `undefined` past the limit (the rest is drained, never kept).
 */
export function readBodyUpTo(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  if (!requestHasBody(req)) return Promise.resolve(EMPTY_BODY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      length += chunk.length;
      if (length > limit) {
        over = true;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(over ? undefined : Buffer.concat(chunks, length)));
    req.once('error', reject);
  });
}
