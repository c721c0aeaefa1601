import fc from 'fast-check';
import { Hono, type Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { stampDeclaresBodyDigest } from '../../server/fastify/raw-body.js';
import { ipstamp, type IpStampVariables } from '../../server/hono/index.js';
import { problemResponse } from '../../server/hono/problem.js';
import { isCorsPreflight } from '../../server/verify/cors-preflight.js';
import { createVerifier } from '../../server/verify/create-verifier.js';
import type { HeaderMap } from '../../server/verify/types.js';
import { makeKey } from '../support/keys.js';

/**
 * The middleware builds its verifier input without an await when there is no body to read,
 * and checks Content-Length before it decodes the stamp to see whether `cdg` asks for the
 * body (bench/README.md, "HTTP cost"). This holds it to the plain path it replaced — the
 * stamp decoded first, the input always awaited — request by request, bodies and digests
 * included.
 */
const key = await makeKey('HS256', 'hono-sync');
const PEER = '127.0.0.2';
const ORIGIN = 'http://app.test';
const NOW = 1_764_000_000_000;
const LIMIT = 64;

function routes(app: Hono<{ Variables: IpStampVariables }>) {
  app.all('/orders', async (c) => c.json({ verdict: c.get('ipStamp'), text: c.req.method === 'POST' ? await c.req.text() : null }));
  return app;
}

const middlewareApp = () =>
  routes(
    new Hono<{ Variables: IpStampVariables }>().use(
      ipstamp({ keys: { keys: [key.publicJwk] }, now: () => NOW, bodyLimit: LIMIT, connection: () => ({ l3: PEER }), echo: false }),
    ),
  );

/** The plain path, as the middleware was: the stamp decoded first, every input awaited. */
function plainApp() {
  const verifier = createVerifier({ keys: { keys: [key.publicJwk] }, now: () => NOW });
  async function bodyForDigest(c: Context, headers: HeaderMap): Promise<Uint8Array | undefined> {
    // no body: the empty bytes a cdg then covers; a body not read stays unknown (undefined),
    // and so does one the headers announce but the Request never got (a GET's, a HEAD's)
    const announced = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    if (c.req.raw.body === null && !announced) return new Uint8Array(0);
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
    if (!stampDeclaresBodyDigest(headers['client-ip-attestation'])) return undefined;
    const length = headers['content-length'];
    if (typeof length !== 'string' || !/^\d{1,15}$/.test(length) || Number(length) > LIMIT) return undefined;
    return new Uint8Array(await c.req.arrayBuffer());
  }
  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(async (c, next) => {
    c.set('ipStamp', null);
    const headers = c.req.header();
    if (headers.host === undefined) headers.host = new URL(c.req.url).host;
    if (isCorsPreflight(c.req.method, headers)) return next();
    const parsed = new URL(c.req.url);
    const input = {
      method: c.req.method,
      url: `${parsed.pathname}${parsed.search}`,
      headers,
      body: await bodyForDigest(c, headers),
      protocol: c.req.url.startsWith('https:') ? ('https' as const) : ('http' as const),
      hints: { l3: PEER },
      required: true,
    };
    const result = await verifier.verify(input);
    if (!result.ok) return problemResponse(result.reason);
    c.set('ipStamp', result.verdict);
    return next();
  });
  return routes(app);
}

describe('hono input without an await, against the plain path', () => {
  it('answers every request alike: status, content type, body, verdict', async () => {
    const a = middlewareApp();
    const b = plainApp();
    const plainStamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const digestStamper = createStamper({ key: key.privateJwk, ip: PEER, bodyDigest: true, now: () => NOW });
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE'),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        fc.constantFrom('none', 'plain', 'digest', 'digest-of-other'),
        fc.constantFrom('exact', 'absent', 'zero', 'garbage', 'huge'),
        async (method, body, stampKind, lengthKind) => {
          const sendsBody = body !== undefined && method !== 'GET';
          const bytes = sendsBody ? new TextEncoder().encode(body) : undefined;
          const url = `${ORIGIN}/orders`;
          const headers: Record<string, string> = {};
          if (stampKind === 'plain') headers['client-ip-attestation'] = await plainStamper.stamp({ method, url });
          if (stampKind === 'digest') headers['client-ip-attestation'] = await digestStamper.stamp({ method, url, body: bytes ?? new Uint8Array(0) });
          if (stampKind === 'digest-of-other') headers['client-ip-attestation'] = await digestStamper.stamp({ method, url, body: 'other' });
          const length = { exact: String(bytes?.length ?? 0), absent: undefined, zero: '0', garbage: '1e3', huge: String(LIMIT + 1) }[lengthKind];
          if (length !== undefined) headers['content-length'] = length;
          const init = { method, headers, body: sendsBody ? body : undefined };
          // each app gets its own copy of the stamp (the replay stores are separate)
          const [x, y] = [await a.request(url, init), await b.request(url, init)];
          expect(x.status).toBe(y.status);
          expect(x.headers.get('content-type')).toBe(y.headers.get('content-type'));
          expect(await x.text()).toBe(await y.text());
          statuses.add(x.status);
        },
      ),
      { numRuns: 200 },
    );
    expect([...statuses].sort()).toEqual([200, 401]);
  });

  it('a throw while verifying reaches app.onError, as it did from an async middleware', async () => {
    // the middleware is a plain function (it hands back next()'s own promise): a throw in it
    // is caught by Hono's compose around the call, as a rejection was
    const app = routes(
      new Hono<{ Variables: IpStampVariables }>().use(
        ipstamp({
          keys: { keys: [key.publicJwk] },
          now: () => NOW,
          connection: () => {
            throw new Error('no socket');
          },
          echo: false,
        }),
      ),
    );
    app.onError((error, c) => c.text(`onError: ${error.message} (ipStamp ${JSON.stringify(c.get('ipStamp'))})`, 500));
    const stamper = createStamper({ key: key.privateJwk, ip: PEER, now: () => NOW });
    const url = `${ORIGIN}/orders`;
    const response = await app.request(url, { headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) } });
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('onError: no socket (ipStamp null)');
  });
});
