import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createSecureServer, createServer, type Http2SecureServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper, type Stamper } from '../../client/index.js';
import { ipstamp, type IpStampNodeMiddleware } from '../../server/node/middleware.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { requireBinary } from '../support/binaries.js';
import {
  AUTHORITY_ANSWERS,
  authorityCases,
  BODY_ANSWERS,
  bodyCases,
  h2Answer,
  h2Answers,
  h2ConcurrentStreamsTest,
  h2Session,
  jtiOf,
  rawH2Answer,
  TARGET_ANSWERS,
  targetCases,
} from '../support/h2-session.js';
import { makeKey } from '../support/keys.js';
import { makeTestCertificate } from '../support/tls-certificate.js';

/**
 * HTTP/2 through the node:http middleware (node:http2's compatibility API): the authority
 * comes as `:authority`, not Host (review of 2026-12-06: every stamp was binding-mismatch), and
 * a body may come without Content-Length, so only a stream the client ended with its headers
 * counts as bodiless.
 */
let server: Http2Server;
let port: number;
let origin: string;
let stamper: Stamper;
let stamp: IpStampNodeMiddleware;

/** The verdict as the handler got it (its jti among it), or the refusal the middleware sent. */
function answerVerdict(req: IncomingMessage, res: ServerResponse): void {
  stamp(req, res, () => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.ipStamp));
  });
}

beforeAll(async () => {
  const key = await makeKey('HS256', 'h2-hs');
  stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
  stamp = ipstamp({ keys: { keys: [key.publicJwk] } });
  server = trackPeerAddresses(createServer(answerVerdict as never));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
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

describe('HTTP/2 through the node:http middleware, attacked', () => {
  it('binds to :authority; a host beside it must name the same origin but for case', async () => {
    expect(await h2Answers(origin, await authorityCases(stamper, port))).toEqual(AUTHORITY_ANSWERS);
  });

  it('compares :path with htu as sent, as the HTTP/1.1 request-target', async () => {
    expect(await h2Answers(origin, await targetCases(stamper, port))).toEqual(TARGET_ANSWERS);
  });

  it('a body nobody recorded with rawBodyVerify fails its cdg, however framed; a content-length that lies resets the stream', async () => {
    expect(await h2Answers(origin, await bodyCases(stamper, port))).toEqual(BODY_ANSWERS);
  });

  it('header lines HTTP/2 forbids reset the stream before any middleware runs; two stamps are malformed', async () => {
    const authority = `127.0.0.1:${port}`;
    /** A stamped GET of /orders with these lines after its pseudo-headers: the verdict's outcome, or the reset's error code. */
    const send = async (...lines: [string, string][]): Promise<string> => {
      const token = await stamper.stamp({ method: 'GET', url: `${origin}/orders` });
      const pseudo = lines.filter(([name]) => name.startsWith(':'));
      const regular = lines.filter(([name]) => !name.startsWith(':'));
      const answer = await rawH2Answer(port, [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/orders'],
        ...pseudo,
        ['client-ip-attestation', token],
        ...regular,
      ]);
      if (answer.startsWith('reset ')) return answer;
      const json = JSON.parse(answer) as { jti?: string; reason?: string };
      return json.jti === jtiOf(token) ? 'accepted' : `refused ${json.reason}`;
    };
    const PROTOCOL_ERROR = 'reset 1';
    expect({
      'host alone': await send(['host', authority]),
      'two host lines, the same': await send(['host', authority], ['host', authority]),
      'two host lines, ours then another': await send(['host', authority], ['host', 'evil.example']),
      ':authority and two host lines': await send([':authority', authority], ['host', authority], ['host', 'evil.example']),
      'two :authority': await send([':authority', authority], [':authority', 'evil.example']),
      'neither :authority nor host': await send(),
      'an empty :authority': await send([':authority', '']),
      'an upper-case Host': await send(['Host', authority]),
      'transfer-encoding': await send([':authority', authority], ['transfer-encoding', 'chunked']),
      'two stamps': await send([':authority', authority], ['client-ip-attestation', 'a.b.c']),
    }).toEqual({
      'host alone': 'accepted',
      'two host lines, the same': PROTOCOL_ERROR,
      'two host lines, ours then another': PROTOCOL_ERROR,
      ':authority and two host lines': PROTOCOL_ERROR,
      'two :authority': PROTOCOL_ERROR,
      'neither :authority nor host': PROTOCOL_ERROR,
      'an empty :authority': PROTOCOL_ERROR,
      'an upper-case Host': PROTOCOL_ERROR,
      'transfer-encoding': PROTOCOL_ERROR,
      'two stamps': 'refused malformed',
    });
  });

  it('takes the scheme from the connection, never from :scheme', async () => {
    const session = h2Session(origin);
    try {
      const token = await stamper.stamp({ method: 'GET', url: `https://127.0.0.1:${port}/orders` });
      expect(await h2Answer(session, { ':path': '/orders', ':scheme': 'https', 'client-ip-attestation': token })).toBe('401 binding-mismatch');
    } finally {
      session.close();
    }
  });

  h2ConcurrentStreamsTest(() => ({ origin, stamper }));
});

const openssl = requireBinary('openssl');

describe.skipIf(!openssl)('HTTP/2 over TLS through the node:http middleware', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipstamp-h2-tls-'));
  let tlsServer: Http2SecureServer;
  let tlsOrigin: string;
  let ca: string;

  beforeAll(async () => {
    const certificate = makeTestCertificate(openssl!, dir);
    ca = certificate.certPem;
    tlsServer = trackPeerAddresses(createSecureServer({ key: readFileSync(certificate.keyFile), cert: ca }, answerVerdict as never));
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    tlsOrigin = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts an https htu, and refuses an http one even when :scheme says http', async () => {
    const session = h2Session(tlsOrigin, { ca });
    try {
      const signed = (origin: string) => stamper.stamp({ method: 'GET', url: `${origin}/orders` });
      const plain = tlsOrigin.replace('https:', 'http:');
      expect([
        await h2Answer(session, { ':path': '/orders', 'client-ip-attestation': await signed(tlsOrigin) }),
        await h2Answer(session, { ':path': '/orders', 'client-ip-attestation': await signed(plain) }),
        await h2Answer(session, { ':path': '/orders', ':scheme': 'http', 'client-ip-attestation': await signed(plain) }),
      ]).toEqual(['accepted', '401 binding-mismatch', '401 binding-mismatch']);
    } finally {
      session.close();
    }
  });
});
