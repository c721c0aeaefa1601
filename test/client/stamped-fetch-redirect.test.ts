import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, generateStampKey, IpStampClientError, type ResponseLike } from '../../client/index.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { ipstamp, type IpStampMiddlewareOptions } from '../../server/node/middleware.js';
import { rawBodyVerify } from '../../server/node/raw-body.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * A stamp is bound to one method, one URL and one origin: `createStampedFetch` must never let
 * fetch carry it to another URL on a redirect. Two sites with the real node middleware: A on
 * 127.0.0.1 and B on 127.0.0.2 (another origin); each logs what it received.
 */

const EMPTY_SHA256 = '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU';
const MINUTE = 60_000;

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  token: string | undefined;
  claims: Record<string, unknown> | undefined;
  body: string;
  status?: number;
}

type Route = (seen: Seen, res: ServerResponse) => boolean;

interface Site {
  origin: string;
  seen: Seen[];
  close(): Promise<void>;
}

function claimsOf(token: string | undefined): Record<string, unknown> | undefined {
  const text = token === undefined ? undefined : decodeBase64urlText(token.split('.')[1] ?? '');
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

function redirect(res: ServerResponse, status: number, location: string): true {
  res.writeHead(status, { location });
  res.end('moved');
  return true;
}

/** node:http + the ipstamp middleware. `before` answers ahead of the verifier (a router's redirect); `after` once it accepted. */
async function startSite(host: string, options: IpStampMiddlewareOptions, routes: { before?: Route; after?: Route; date?: () => string } = {}): Promise<Site> {
  const verify = ipstamp(options);
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const token = req.headers['client-ip-attestation'] as string | undefined;
      const entry: Seen = { method: req.method!, path: req.url!, headers: req.headers, token, claims: claimsOf(token), body: body.toString() };
      if (entry.path !== '/.well-known/ipstamp') seen.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      if (routes.date) res.setHeader('date', routes.date());
      if (routes.before?.(entry, res)) return;
      rawBodyVerify(req, res, body);
      verify(req, res, () => {
        if (routes.after?.(entry, res)) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, site: host }));
      });
    });
  });
  trackPeerAddresses(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    origin: `http://${host}:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let key: TestKeyPair;
let a: Site;
let b: Site;

beforeAll(async () => {
  key = await makeKey('ES256');
  b = await startSite('127.0.0.2', { keys: { keys: [key.publicJwk] } });
  a = await startSite(
    '127.0.0.1',
    { keys: { keys: [key.publicJwk] } },
    {
      // answered before the verifier: the stamp was never consumed at A
      before: (s, res) => {
        if (s.path === '/old') return redirect(res, 307, `${b.origin}/collect`);
        if (s.path === '/slash') return redirect(res, 308, '/slash/');
        if (s.path === '/stream') return redirect(res, 307, '/stream/');
        const to = /^\/to\/(\d+)(\/.*)$/.exec(s.path); // to a site on 127.0.0.2 a test started
        if (to) return redirect(res, 307, `http://127.0.0.2:${to[1]}${to[2]}`);
        return false;
      },
      // answered after the verifier accepted
      after: (s, res) => {
        if (s.path === '/form') return redirect(res, 303, '/done');
        const loop = /^\/loop\/(\d+)$/.exec(s.path);
        if (loop) return redirect(res, 302, `/loop/${Number(loop[1]) + 1}`);
        return false;
      },
    },
  );
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});
let marks: { a: number; b: number };
const mark = () => (marks = { a: a.seen.length, b: b.seen.length });
const since = () => ({ a: a.seen.slice(marks.a), b: b.seen.slice(marks.b) });
const port = (site: Site) => new URL(site.origin).port;

describe('createStampedFetch and redirects (real node middleware on 127.0.0.1 and 127.0.0.2)', () => {
  it("a 307 from A to another origin B: B never receives A's stamp; it gets its own, for its URL, and accepts it", async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    const response = await stampedFetch(`${a.origin}/old`, {
      method: 'POST',
      body: 'secret order',
      headers: { authorization: 'Bearer for-a', 'x-trace': 't1' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, site: '127.0.0.2' });
    expect(response.url).toBe(`${b.origin}/collect`);

    const { a: atA, b: atB } = since();
    expect(atA.map((s) => [s.method, s.path, s.claims?.htu])).toEqual([['POST', '/old', `${a.origin}/old`]]);
    expect(atB.map((s) => [s.method, s.path, s.status, s.body])).toEqual([['POST', '/collect', 200, 'secret order']]);
    const [first] = atA;
    const [hop] = atB;
    // B saw no stamp signed for A: not A's token, not its jti, not its htu
    expect(hop!.token).not.toBe(first!.token);
    expect(hop!.claims).toMatchObject({ htm: 'POST', htu: `${b.origin}/collect`, ip: '127.0.0.1' });
    expect(hop!.claims!.jti).not.toBe(first!.claims!.jti);
    expect(hop!.claims!.cdg).toBe(first!.claims!.cdg);
    // as fetch does across origins: Authorization is not sent on; other headers are
    expect(hop!.headers.authorization).toBeUndefined();
    expect(hop!.headers['x-trace']).toBe('t1');
    expect(first!.headers.authorization).toBe('Bearer for-a');
  });

  it("ip: 'ticket': B gets the ticket with a new stamp bound to B's URL, never A's stamp", async () => {
    const issuerKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };
    const edge = await startSite('127.0.0.1', { keys: { keys: [] }, issuer: { key: issuerKey as never } });
    const issuers = { [edge.origin]: `${edge.origin}/.well-known/ipstamp/issuer-jwks` };
    const tb = await startSite('127.0.0.2', { keys: { keys: [] }, issuers });
    const ta = await startSite('127.0.0.1', { keys: { keys: [] }, issuers }, { before: (s, res) => redirect(res, 307, `${tb.origin}${s.path}`) });
    try {
      const stampedFetch = createStampedFetch({ key: await generateStampKey({ alg: 'ES256' }), ip: 'ticket', issuer: edge.origin, bodyDigest: true });
      const response = await stampedFetch(`${ta.origin}/orders`, { method: 'PUT', body: 'tea' });
      expect(response.status).toBe(200);
      expect(ta.seen.map((s) => s.claims?.htu)).toEqual([`${ta.origin}/orders`]);
      expect(tb.seen.map((s) => [s.method, s.status, s.claims?.htu, s.claims?.obs])).toEqual([['PUT', 200, `${tb.origin}/orders`, 'ticket']]);
      expect(tb.seen[0]!.token).not.toBe(ta.seen[0]!.token);
      expect(tb.seen[0]!.headers['client-ip-ticket']).toBe(ta.seen[0]!.headers['client-ip-ticket']);
    } finally {
      await Promise.all([edge.close(), ta.close(), tb.close()]);
    }
  });

  it("a same-origin 308 to the trailing-slash path (the default 'follow') is accepted at the target", async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    const response = await stampedFetch(`${a.origin}/slash`, { method: 'POST', body: 'x=1', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(200);
    const hops = since().a;
    expect(hops.map((s) => [s.method, s.path, s.status, s.claims?.htu, s.body])).toEqual([
      ['POST', '/slash', 308, `${a.origin}/slash`, 'x=1'],
      ['POST', '/slash/', 200, `${a.origin}/slash/`, 'x=1'],
    ]);
    expect(hops[1]!.headers['content-type']).toBe('text/plain');
  });

  it('a Request as input is followed with its headers and (digested) body; its own body is left unread', async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    const request = new Request(`${a.origin}/slash`, { method: 'PUT', body: 'r=1', headers: { 'x-trace': 'r' } });
    expect((await stampedFetch(request)).status).toBe(200);
    expect(request.bodyUsed).toBe(false);
    const [, hop] = since().a;
    expect(hop).toMatchObject({ method: 'PUT', path: '/slash/', status: 200, body: 'r=1', headers: { 'x-trace': 'r' } });
    expect(hop!.claims).toMatchObject({ htm: 'PUT', htu: `${a.origin}/slash/` });
  });

  it("redirect: 'error' still rejects, and nothing reaches the target; 'manual' returns the redirect", async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    await expect(stampedFetch(`${a.origin}/old`, { method: 'POST', body: 'x', redirect: 'error' })).rejects.toThrow(TypeError);
    const manual = await stampedFetch(new Request(`${a.origin}/old`, { method: 'POST', body: 'x', redirect: 'manual' }));
    expect(manual.status).toBe(307);
    expect(manual.headers.get('location')).toBe(`${b.origin}/collect`);
    expect(since().a.map((s) => s.path)).toEqual(['/old', '/old']);
    expect(since().b).toEqual([]);
  });

  it('a 303 after a POST becomes a GET without a body, its cdg over no bytes, accepted', async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    const response = await stampedFetch(`${a.origin}/form`, { method: 'POST', body: '{"item":42}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
    const [post, get] = since().a;
    expect([post!.method, post!.status, post!.claims?.htm]).toEqual(['POST', 303, 'POST']);
    expect(post!.claims!.cdg).not.toBe(EMPTY_SHA256);
    expect(get).toMatchObject({ method: 'GET', path: '/done', status: 200, body: '' });
    expect(get!.claims).toMatchObject({ htm: 'GET', htu: `${a.origin}/done`, cdg: EMPTY_SHA256 });
    expect(get!.headers['content-type']).toBeUndefined();
    expect(get!.headers['content-length'] ?? '0').toBe('0');
  });

  it('more than 20 redirects fail with ERR_IPSTAMP_TOO_MANY_REDIRECTS; every hop carried its own accepted stamp', async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const error = await stampedFetch(`${a.origin}/loop/0`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpStampClientError);
    expect((error as IpStampClientError).code).toBe('ERR_IPSTAMP_TOO_MANY_REDIRECTS');
    const hops = since().a;
    expect(hops).toHaveLength(21);
    expect(hops.every((s, i) => s.status === 302 && s.claims?.htu === `${a.origin}/loop/${i}`)).toBe(true);
    expect(new Set(hops.map((s) => s.claims!.jti)).size).toBe(21);
  });

  it('a stream body cannot be sent again on a 307: ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED', async () => {
    mark();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const error = await stampedFetch(`${a.origin}/stream`, { method: 'POST', body, duplex: 'half' } as RequestInit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpStampClientError);
    expect((error as IpStampClientError).code).toBe('ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED');
    expect(since().a.map((s) => s.path)).toEqual(['/stream']);
  });

  it("a 401 expired from the redirect target teaches B's clock, not A's: the next call to A is signed at the local time", async () => {
    const ahead = 4 * MINUTE;
    const late = await startSite(
      '127.0.0.2',
      { keys: { keys: [key.publicJwk] }, now: () => Date.now() + ahead },
      { date: () => new Date(Date.now() + ahead).toUTCString() },
    );
    try {
      mark();
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
      const started = Math.floor(Date.now() / 1000);
      const response = await stampedFetch(`${a.origin}/to/${port(late)}/clock`);
      expect(response.status).toBe(200);
      // B refused its own stamp (expired by B's clock); the SDK learned B's time and B accepted the second
      expect(late.seen.map((s) => s.status)).toEqual([401, 200]);
      expect(late.seen.every((s) => s.claims!.htu === `${late.origin}/clock`)).toBe(true);
      expect((late.seen[1]!.claims!.iat as number) - started).toBeGreaterThan(200);

      const plain = await stampedFetch(`${a.origin}/plain`);
      expect(plain.status).toBe(200);
      const atA = since().a.filter((s) => s.path === '/plain');
      expect(atA.map((s) => s.status)).toEqual([200]); // signed right the first time
      expect(Math.abs((atA[0]!.claims!.iat as number) - Math.floor(Date.now() / 1000))).toBeLessThan(10);
    } finally {
      await late.close();
    }
  });

  it("a 403 ip-mismatch from the redirect target drops B's echo address, not A's", async () => {
    let lie = false;
    const lying = await startSite(
      '127.0.0.2',
      { keys: { keys: [key.publicJwk] } },
      {
        before: (s, res) => {
          if (s.path !== '/.well-known/ipstamp' || !lie) return false;
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end('{"ip":"192.0.2.1"}');
          return true;
        },
      },
    );
    const echoes = { a: 0, b: 0 };
    const counting = async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (url.pathname === '/.well-known/ipstamp') echoes[url.origin === a.origin ? 'a' : 'b']++;
      return fetch(input, init);
    };
    try {
      lie = true;
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: counting });
      const refused = await stampedFetch(`${a.origin}/to/${port(lying)}/mismatch`);
      expect(refused.status).toBe(403);
      expect(echoes).toEqual({ a: 1, b: 2 }); // B's address learned, dropped and learned again; A's kept
      expect((await stampedFetch(`${a.origin}/plain`)).status).toBe(200);
      expect(echoes.a).toBe(1);
    } finally {
      await lying.close();
    }
  });

  it("an opaque redirect (a browser's answer to redirect: 'manual') cannot be followed: ERR_IPSTAMP_OPAQUE_REDIRECT; with 'manual' it is returned", async () => {
    const calls: RequestInit[] = [];
    const opaque: ResponseLike & { type: string } = {
      type: 'opaqueredirect',
      status: 0,
      headers: new Headers(),
      body: null,
      clone: () => opaque,
    };
    const browserLike = async (_input: unknown, init: RequestInit) => {
      calls.push(init);
      return opaque;
    };
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch: browserLike });
    const error = await stampedFetch('https://api.example.com/orders').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpStampClientError);
    expect((error as IpStampClientError).code).toBe('ERR_IPSTAMP_OPAQUE_REDIRECT');
    expect(await stampedFetch('https://api.example.com/orders', { redirect: 'manual' })).toBe(opaque);
    expect(calls.map((c) => c.redirect)).toEqual(['manual', 'manual']);
  });
});
