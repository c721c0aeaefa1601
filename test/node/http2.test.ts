import { connect, createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp } from '../../server/node/middleware.js';
import { makeKey } from '../support/keys.js';

/**
 * HTTP/2 through the node:http middleware (node:http2's compatibility API): the authority
 * comes as `:authority`, not Host (review of 2026-12-06: every stamp was binding-mismatch), and
 * a body may come without Content-Length, so only a stream the client ended with its headers
 * counts as bodiless.
 */
let server: Http2Server;
let origin: string;
let stamper: Stamper;

beforeAll(async () => {
  const key = await makeKey('HS256', 'h2-hs');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  const stamp = ipstamp({ keys: { keys: [key.publicJwk] } });
  server = createServer((req, res) => {
    stamp(req as unknown as IncomingMessage, res as unknown as ServerResponse, () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify((req as unknown as { ipStamp: unknown }).ipStamp));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** One HTTP/2 request; resolves with status and parsed body. */
async function h2(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const session = connect(origin);
  try {
    const req = session.request({ ':method': method, ':path': path, ...headers }, { endStream: body === undefined });
    if (body !== undefined) req.end(body);
    const status = await new Promise<number>((resolve, reject) => {
      req.once('response', (h) => resolve(Number(h[':status'])));
      req.once('error', reject);
    });
    let text = '';
    req.setEncoding('utf8');
    for await (const chunk of req) text += chunk as string;
    return { status, json: JSON.parse(text) as Record<string, unknown> };
  } finally {
    session.close();
  }
}

describe('HTTP/2 through the node:http middleware', () => {
  it('binds a stamp to the request :authority names', async () => {
    const url = `${origin}/orders`;
    const { status, json } = await h2('GET', '/orders', { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url }) });
    expect(status).toBe(200);
    expect(json).toMatchObject({ ip: '127.0.0.1', agreement: 'match' });
  });

  it('refuses a stamp for another authority', async () => {
    const token = await stamper.stamp({ method: 'GET', url: 'http://evil.example/orders' });
    const { json } = await h2('GET', '/orders', { 'client-ip-attestation': token });
    expect(json.reason).toBe('binding-mismatch');
  });

  it('a stream that declares content-length: 0 is bodiless even when its end comes in an empty DATA frame', async () => {
    const token = await stamper.stamp({ method: 'POST', url: `${origin}/orders` });
    const { status, json } = await h2('POST', '/orders', { 'client-ip-attestation': token, 'content-length': '0' }, '');
    expect([status, json.agreement]).toEqual([200, 'match']);
  });

  it('refuses a cdg over the empty body when a body came, with no Content-Length, that nobody read', async () => {
    const token = await stamper.stamp({ method: 'POST', url: `${origin}/orders` });
    const { status, json } = await h2('POST', '/orders', { 'client-ip-attestation': token }, '{"transfer":"all-funds"}');
    expect([status, json.reason]).toEqual([401, 'binding-mismatch']);
  });
});
