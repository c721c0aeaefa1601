import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, generateStampKey, type AddressSource } from '../../client/index.js';
import { trackPeerAddresses } from '../../server/hints/peer-address.js';
import { ipstamp } from '../../server/node/middleware.js';
import { rawBodyVerify } from '../../server/node/raw-body.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { unsignedTicketAnswer } from '../support/unsigned-ticket.js';

/**
 * Fetch copies a BufferSource (and serializes URLSearchParams) when it is called: a caller may
 * reuse the buffer right after. The stamped fetch awaits the address, the key and the
 * signature before it calls fetch, so it must take that copy itself, at the call, and send
 * (and digest) the copy — on the first attempt and on a retry. Real node middleware with
 * `rawBodyVerify` and `requireBodyDigest` for the digest cases.
 */

interface Received {
  body: string;
  contentType: string | undefined;
  status?: number;
}

interface Site {
  origin: string;
  received: Received[];
  close(): Promise<void>;
}

async function startSite(key: TestKeyPair, requireBodyDigest: boolean): Promise<Site> {
  const verify = ipstamp({ keys: { keys: [key.publicJwk] }, requireBodyDigest });
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: Received = { body: body.toString('latin1'), contentType: req.headers['content-type'] };
      if (req.url !== '/.well-known/ipstamp') received.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      rawBodyVerify(req, res, body);
      verify(req, res, () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
  });
  trackPeerAddresses(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const ORIGINAL = 'transfer 10 EUR to alice';
const CHANGED = 'transfer 99 EUR to mallo';
const bytes = (text: string) => new TextEncoder().encode(text);

/** Each body form over a buffer the test changes afterwards, and the change. */
function mutableBodies(): [string, BodyInit, () => void][] {
  const array = bytes(ORIGINAL);
  const buffer = bytes(ORIGINAL).buffer;
  const padded = new Uint8Array(ORIGINAL.length + 8);
  padded.set(bytes(ORIGINAL), 4);
  const params = new URLSearchParams({ to: 'alice', amount: '10' });
  return [
    ['a Uint8Array', array, () => array.set(bytes(CHANGED))],
    ['an ArrayBuffer', buffer, () => new Uint8Array(buffer).set(bytes(CHANGED))],
    ['a DataView at an offset', new DataView(padded.buffer, 4, ORIGINAL.length), () => padded.set(bytes(CHANGED), 4)],
    ['URLSearchParams', params, () => params.set('to', 'mallory')],
  ];
}

const expected = (name: string) => (name === 'URLSearchParams' ? 'to=alice&amount=10' : ORIGINAL);

let key: TestKeyPair;
let strict: Site;
let lax: Site;
beforeAll(async () => {
  key = await makeKey('ES256');
  strict = await startSite(key, true);
  lax = await startSite(key, false);
});
afterAll(async () => {
  await strict?.close();
  await lax?.close();
});

describe('createStampedFetch copies the body when it is called', () => {
  it('with bodyDigest: a buffer changed right after the call is sent, and digested, as it was; the verifier accepts', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    for (const [name, body, change] of mutableBodies()) {
      const mark = strict.received.length;
      const pending = stampedFetch(`${strict.origin}/pay`, { method: 'POST', body });
      change();
      const response = await pending;
      expect(response.status, name).toBe(200);
      expect(
        strict.received.slice(mark).map((r) => [r.body, r.status]),
        name,
      ).toEqual([[expected(name), 200]]);
    }
    expect(strict.received.at(-1)!.contentType).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });

  it('the headers as they were at the call, as fetch reads them: a Headers object changed right after is not what is sent', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const headers = new Headers({ 'content-type': 'text/plain' });
    const mark = lax.received.length;
    const pending = stampedFetch(`${lax.origin}/pay`, { method: 'POST', body: ORIGINAL, headers });
    headers.set('content-type', 'application/x-changed');
    expect((await pending).status).toBe(200);
    expect(lax.received.slice(mark).map((r) => r.contentType)).toEqual(['text/plain']);
  });

  it('without bodyDigest: the bytes as they were at the call, on the first attempt and on the retry after ip-mismatch', async () => {
    for (const [name, body, change] of mutableBodies()) {
      // a stale address first: 403 ip-mismatch, a refresh, and the request once more
      let address = '192.0.2.1';
      const source: AddressSource = {
        obs: 'static',
        current: () => Promise.resolve(address),
        invalidate: () => {
          address = '127.0.0.1';
        },
      };
      const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: source });
      const mark = lax.received.length;
      const pending = stampedFetch(`${lax.origin}/pay`, { method: 'PUT', body });
      change();
      const response = await pending;
      expect(response.status, name).toBe(200);
      expect(
        lax.received.slice(mark).map((r) => [r.body, r.status]),
        name,
      ).toEqual([
        [expected(name), 403],
        [expected(name), 200],
      ]);
    }
  });

  it("ip: 'ticket': the body is copied at the call too, before the key's kid is awaited", async () => {
    const stampKey = await generateStampKey();
    const sent: string[] = [];
    const fetch = (input: unknown, init?: RequestInit): Promise<Response> => {
      if (String(input).endsWith('/.well-known/ipstamp/ticket')) {
        return Promise.resolve(Response.json(unsignedTicketAnswer({ ip: '192.0.2.1', exp: Math.floor(Date.now() / 1000) + 600, jwk: stampKey.publicJwk })));
      }
      sent.push(new TextDecoder().decode(init?.body as Uint8Array));
      return Promise.resolve(new Response('ok'));
    };
    for (const bodyDigest of [false, true]) {
      const stampedFetch = createStampedFetch({ key: stampKey, ip: 'ticket', issuer: 'https://edge.example', bodyDigest, fetch });
      const body = bytes(ORIGINAL);
      const pending = stampedFetch('https://api.example/pay', { method: 'POST', body });
      body.set(bytes(CHANGED));
      expect((await pending).status).toBe(200);
    }
    expect(sent).toEqual([ORIGINAL, ORIGINAL]);
  });
});
