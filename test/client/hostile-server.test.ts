import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { createStampedFetch, echoAddress, generateStampKey, type StampKey } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/interceptor.node.js';
import { DEFAULT_MAX_ORIGINS } from '../../client/per-origin-address.js';
import { createServerClocks } from '../../client/server-clock.js';
import { createTicketHolder } from '../../client/ticket-holder.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { ECHO_PATH, TICKET_PATH } from '../../shared/constants.js';
import { REASON_STATUS, REASONS, type Reason } from '../../shared/reasons.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { unsignedTicketAnswer } from '../support/unsigned-ticket.js';

/**
 * A red-team round against the client SDK: the server it talks to — an origin, an echo
 * endpoint, an issuer, a redirect target — is the attacker. What the SDK must not do: sign
 * what it should not, carry a stamp or key anywhere else, retry or buffer without bound, hang
 * on an answer that never ends, or let key material reach an error. Servers are node:http on
 * 127.0.0.1 and 127.0.0.2 (another origin); each test sets what they answer and reads what
 * they received.
 */

const MINUTE = 60_000;

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

type Route = (seen: Seen, res: ServerResponse, req: IncomingMessage) => void;

interface Hostile {
  origin: string;
  seen: Seen[];
  route: Route;
}

const servers: Server[] = [];

async function startHostile(host: string): Promise<Hostile> {
  const hostile: Hostile = { origin: '', seen: [], route: (_seen, res) => void res.end('ok') };
  const server = createServer((req, res) => {
    const seen = { method: req.method!, path: req.url!, headers: req.headers };
    hostile.seen.push(seen);
    req.resume();
    hostile.route(seen, res, req);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  hostile.origin = `http://${host}:${(server.address() as AddressInfo).port}`;
  return hostile;
}

function claimsOf(token: string | string[] | undefined): Record<string, unknown> {
  if (typeof token !== 'string') throw new Error('no stamp');
  return JSON.parse(decodeBase64urlText(token.split('.')[1]!)!) as Record<string, unknown>;
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res
    .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    .end(typeof body === 'string' ? body : JSON.stringify(body));
}

function refuse(res: ServerResponse, reason: Reason, date?: number): void {
  const status = REASON_STATUS[reason];
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (date !== undefined) headers.date = new Date(date).toUTCString();
  res.writeHead(status, headers).end(JSON.stringify({ type: `urn:ipstamp:${reason}`, status, reason }));
}

const stampsOf = (seen: Seen[]) => seen.filter((s) => s.headers['client-ip-attestation'] !== undefined && !s.path.startsWith(ECHO_PATH));
const paths = (seen: Seen[], path: string) => seen.filter((s) => s.path === path).length;

let a: Hostile; // 127.0.0.1
let b: Hostile; // 127.0.0.2: another origin
let hs: TestKeyPair;
let es: TestKeyPair;
let ticketKey: StampKey;
/** The issuer's answer: a ticket for ticketKey (its signature is not read by the client). */
const ticketFor = (ip: string, exp: number) => unsignedTicketAnswer({ ip, exp, jwk: ticketKey.publicJwk }, 'h');

beforeAll(async () => {
  [a, b, hs, es, ticketKey] = await Promise.all([
    startHostile('127.0.0.1'),
    startHostile('127.0.0.2'),
    makeKey('HS256'),
    makeKey('ES256'),
    generateStampKey({ alg: 'ES256' }),
  ]);
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function reset(...hosts: Hostile[]): void {
  for (const host of hosts) {
    host.seen.length = 0;
    host.route = (_seen, res) => void res.end('ok');
  }
}

describe('an echo that answers something other than an address (docs/client.md: "must be {"ip": <valid address>}", PROTOCOL §3)', () => {
  const refused: [string, string][] = [
    ['a zone id', '{"ip":"fe80::1%eth0"}'],
    ['brackets', '{"ip":"[2001:db8::1]"}'],
    ['a port', '{"ip":"192.0.2.1:443"}'],
    ['leading zeros', '{"ip":"192.0.2.01"}'],
    ['an octal-looking octet', '{"ip":"010.0.2.1"}'],
    ['a header injection', '{"ip":"192.0.2.1\\r\\nX-Injected: 1"}'],
    ['surrounding space', '{"ip":" 192.0.2.1"}'],
    ['the unspecified address', '{"ip":"::"}'],
    ['a mapped unspecified address', '{"ip":"::ffff:0.0.0.0"}'],
    ['a number', '{"ip":3221225985}'],
    ['an array', '{"ip":["192.0.2.1"]}'],
    ['an object', '{"ip":{"v4":"192.0.2.1"}}'],
    ['a bare JSON string', '"192.0.2.1"'],
    ['an empty body', ''],
  ];
  for (const [name, body] of refused) {
    it(`${name}: ERR_IPSTAMP_ECHO_FAILED with the fixed message, and no request is stamped`, async () => {
      reset(a);
      a.route = (seen, res) => (seen.path === ECHO_PATH ? json(res, body) : void res.end('ok'));
      const stampedFetch = createStampedFetch({ key: hs.privateJwk, ip: 'echo' });
      const error = await stampedFetch(`${a.origin}/orders`).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_IPSTAMP_ECHO_FAILED', message: 'could not learn the client address from the echo endpoint' });
      expect(inspect(error, { depth: 5 })).not.toContain('Injected');
      expect(a.seen.map((s) => s.path)).toEqual([ECHO_PATH]);
    });
  }

  const rewritten: [string, string, string][] = [
    ['an IPv4-mapped IPv6 address', '::ffff:192.0.2.1', '192.0.2.1'],
    ['IPv6 in upper case, uncompressed', '2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ];
  for (const [name, answered, signed] of rewritten) {
    it(`${name} is signed in its canonical form (${signed}), never as answered`, async () => {
      reset(a);
      a.route = (seen, res) => (seen.path === ECHO_PATH ? json(res, { ip: answered }) : void res.end('ok'));
      const stampedFetch = createStampedFetch({ key: hs.privateJwk, ip: 'echo' });
      expect((await stampedFetch(`${a.origin}/orders`)).status).toBe(200);
      expect(claimsOf(stampsOf(a.seen)[0]!.headers['client-ip-attestation']).ip).toBe(signed);
    });
  }

  it(
    'headers, then a body that never ends: given up after timeoutMs (the timeout covers the body too), ERR_IPSTAMP_ECHO_FAILED',
    { timeout: 5000 },
    async () => {
      reset(a);
      a.route = (_seen, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"ip":"192.0.2.');
      };
      const source = echoAddress({ url: `${a.origin}${ECHO_PATH}`, timeoutMs: 50 });
      const error = (await Promise.resolve(source.current()).catch((e: unknown) => e)) as { code?: string; cause?: { name?: string } };
      expect(error.code).toBe('ERR_IPSTAMP_ECHO_FAILED');
      expect(error.cause?.name).toBe('TimeoutError');
    },
  );
});

/** A 200 JSON answer of `total` bytes, streamed in 16 KiB chunks; `pulled()` says how many bytes the reader asked for. */
function streamedAnswer(head: string, total: number): { response: Response; pulled: () => number } {
  const encoder = new TextEncoder();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const text = sent === 0 ? head + 'x'.repeat(16_384 - head.length) : sent + 16_384 >= total ? `${'x'.repeat(16_382)}"}` : 'x'.repeat(16_384);
      sent += 16_384;
      controller.enqueue(encoder.encode(text));
    },
  });
  return { response: new Response(body, { headers: { 'content-type': 'application/json' } }), pulled: () => sent };
}

describe("an issuer that answers something other than a ticket (ip: 'ticket', PROTOCOL §7.1–7.2)", () => {
  const ticketFetchTo = (api: Hostile) => {
    const stampedFetch = createStampedFetch({ key: ticketKey, ip: 'ticket', issuer: a.origin });
    return () => stampedFetch(`${api.origin}/orders`);
  };

  it('control: a ticket in the JWS alphabet is carried to the api, the stamp bound to it (tth)', async () => {
    reset(a, b);
    const answer = ticketFor('127.0.0.1', Math.floor(Date.now() / 1000) + 300);
    a.route = (_seen, res) => json(res, answer);
    expect((await ticketFetchTo(b)()).status).toBe(200);
    expect(b.seen[0]!.headers['client-ip-ticket']).toBe(answer.ticket);
    expect(claimsOf(b.seen[0]!.headers['client-ip-attestation'])).toMatchObject({ ip: '127.0.0.1', obs: 'ticket' });
  });

  // A ticket is a JWS compact serialization (§7.2): plain ASCII. Text fetch cannot send as a header
  // (or would send trimmed, so its tth no longer fits) must not be held: every call would then fail,
  // or be refused for a reason that never drops the ticket, until its exp — any exp the issuer wrote.
  // Each is a ticket the client would otherwise hold (its claims fit the answer and the key).
  const unsendable: [string, (ticket: string) => string][] = [
    ['a CR LF header injection', (t) => `${t}\r\nX-Injected: 1`],
    ['a NUL', (t) => `${t}\u0000`],
    ['a character past Latin-1 (U+2028)', (t) => `${t}\u2028`],
    ['a leading space (fetch would trim it: the tth would not fit what is sent)', (t) => ` ${t}`],
    ['a trailing tab', (t) => `${t}\t`],
  ];
  for (const [name, spoil] of unsendable) {
    it(`${name}: ERR_IPSTAMP_TICKET_FAILED, nothing reaches the api, and the next call asks the issuer again`, async () => {
      reset(a, b);
      const answer = ticketFor('127.0.0.1', 9_000_000_000_000);
      a.route = (_seen, res) => json(res, { ...answer, ticket: spoil(answer.ticket) });
      const call = ticketFetchTo(b);
      for (let i = 0; i < 2; i++) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED', message: 'could not obtain a ticket from the issuer' });
        expect(inspect(error, { depth: 5 })).not.toContain('Injected');
      }
      expect(b.seen).toEqual([]);
      expect(paths(a.seen, TICKET_PATH)).toBe(2);
    });
  }

  it('a 200 of 1 MiB that is a well-formed ticket answer is refused after its first few KiB, not read to the end', async () => {
    const head = JSON.stringify(ticketFor('192.0.2.1', Math.floor(Date.now() / 1000) + 300)).slice(0, -1) + ',"pad":"';
    const answer = streamedAnswer(head, 1 << 20);
    const holder = createTicketHolder({ issuer: 'https://edge.test', key: ticketKey, fetch: async () => answer.response });
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
    expect(answer.pulled()).toBeLessThanOrEqual(3 * 16_384);
  });

  it('the ticket request carries a deadline (an AbortSignal), as the echo request does', async () => {
    const signals: unknown[] = [];
    const stampedFetch = createStampedFetch({
      key: ticketKey,
      ip: 'ticket',
      issuer: 'https://edge.test',
      fetch: async (input: string, init?: RequestInit) => {
        if (input.startsWith('https://edge.test/')) {
          signals.push(init?.signal);
          if (!(init?.signal instanceof AbortSignal)) throw new Error('no signal: an issuer that never answers would hang this call for ever');
          return Response.json(ticketFor('192.0.2.1', Math.floor(Date.now() / 1000) + 300));
        }
        return new Response('ok');
      },
    });
    expect((await stampedFetch('https://api.test/orders')).status).toBe(200);
    expect(signals).toHaveLength(1);
  });

  it('an issuer that never answers is given up after the timeout: ERR_IPSTAMP_TICKET_FAILED with the timeout as cause', { timeout: 5000 }, async () => {
    const hung = (_input: unknown, init?: RequestInit): Promise<Response> =>
      new Promise((_resolve, reject) => {
        const signal = init?.signal;
        if (!signal) return reject(new Error('no signal: this request would hang for ever'));
        signal.addEventListener('abort', () => reject(signal.reason as Error));
      });
    const holder = createTicketHolder({ issuer: 'https://edge.test', key: ticketKey, fetch: hung, timeoutMs: 1 } as Parameters<typeof createTicketHolder>[0]);
    const error = (await holder.get().catch((e: unknown) => e)) as { code?: string; cause?: { name?: string } };
    expect(error.code).toBe('ERR_IPSTAMP_TICKET_FAILED');
    expect(error.cause?.name).toBe('TimeoutError');
  });

  it('an issuer that sends its headers and then a body that never ends is given up too: ERR_IPSTAMP_TICKET_FAILED', { timeout: 5000 }, async () => {
    reset(a);
    a.route = (_seen, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ticket":"h.p.');
    };
    const holder = createTicketHolder({ issuer: a.origin, key: ticketKey, fetch: (input, init) => fetch(input, init), timeoutMs: 50 } as Parameters<
      typeof createTicketHolder
    >[0]);
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
  });
});

describe('a server that refuses every stamp: how many requests one call makes (docs/client.md: "A request is sent at most twice")', () => {
  // Every refusal is dated 2 min ahead, so a clock refusal is worth a retry; the echo and the issuer
  // answer at the real time. ALREADY-PINNED for a literal address in clock-correction.test.ts.
  const expected = (mode: 'echo' | 'ticket', reason: Reason): { api: number; echo: number; issuer: number } => {
    const clock = reason === 'expired' || reason === 'not-yet-valid';
    const refresh = mode === 'echo' ? reason === 'ip-mismatch' : reason === 'bad-ticket';
    const api = clock || refresh ? 2 : 1;
    return { api, echo: mode === 'echo' ? (refresh ? 2 : 1) : 0, issuer: mode === 'ticket' ? (refresh ? 2 : 1) : 0 };
  };
  for (const mode of ['echo', 'ticket'] as const) {
    it(`ip: '${mode}', each of the ${REASONS.length} reasons: at most two stamped requests, and one refresh only for its own reason`, async () => {
      for (const reason of REASONS) {
        reset(a);
        a.route = (seen, res) => {
          if (seen.path === ECHO_PATH) return json(res, { ip: '127.0.0.1' });
          if (seen.path === TICKET_PATH) return json(res, ticketFor('127.0.0.1', Math.floor(Date.now() / 1000) + 300));
          refuse(res, reason, Date.now() + 2 * MINUTE);
        };
        const stampedFetch =
          mode === 'echo' ? createStampedFetch({ key: hs.privateJwk, ip: 'echo' }) : createStampedFetch({ key: ticketKey, ip: 'ticket', issuer: a.origin });
        const response = await stampedFetch(`${a.origin}/orders`, { method: 'PUT', body: 'again' });
        expect({ reason, status: response.status, body: ((await response.json()) as { reason: unknown }).reason }).toEqual({
          reason,
          status: REASON_STATUS[reason],
          body: reason,
        });
        const counted = { api: paths(a.seen, '/orders'), echo: paths(a.seen, ECHO_PATH), issuer: paths(a.seen, TICKET_PATH) };
        expect({ reason, ...counted }).toEqual({ reason, ...expected(mode, reason) });
      }
    });
  }
});

describe('time from a lying server stays within maxClockCorrectionMs, per origin (PROTOCOL §6.1)', () => {
  const T = 1_800_000_000_000;
  const TEN_YEARS = 3650 * 24 * 60 * MINUTE;

  for (const offset of [TEN_YEARS, -TEN_YEARS]) {
    it(`an issuer refusing the proof with a Date ${offset > 0 ? '+' : '−'}10 years: one proof, signed at the local time, never again at the claimed one`, async () => {
      reset(a);
      a.route = (_seen, res) => refuse(res, offset > 0 ? 'not-yet-valid' : 'expired', T + offset);
      const clocks = createServerClocks({ now: () => T });
      const holder = createTicketHolder({ issuer: a.origin, key: ticketKey, fetch: (input, init) => fetch(input, init), clocks });
      await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
      expect(a.seen).toHaveLength(1);
      expect(claimsOf(a.seen[0]!.headers['client-ip-attestation']).iat).toBe(T / 1000);
      expect(clocks.correction(a.origin)).toBe(0);
    });

    it(`the interceptor, refused with a Date ${offset > 0 ? '+' : '−'}10 years: the next stamp is still signed at the local time`, async () => {
      reset(a);
      a.route = (_seen, res) => refuse(res, offset > 0 ? 'not-yet-valid' : 'expired', T + offset);
      const agent = new Agent().compose(ipstampInterceptor({ key: hs.privateJwk, ip: '127.0.0.1', now: () => T }));
      try {
        for (let i = 0; i < 2; i++) await (await request(`${a.origin}/orders`, { dispatcher: agent })).body.text();
      } finally {
        await agent.close();
      }
      expect(a.seen.map((s) => claimsOf(s.headers['client-ip-attestation']).iat)).toEqual([T / 1000, T / 1000]);
    });
  }

  it('the interceptor learns a time per origin: what one origin says (+4 min) never moves the stamps for another', async () => {
    reset(a, b);
    a.route = (_seen, res) => refuse(res, 'not-yet-valid', T + 4 * MINUTE);
    const agent = new Agent().compose(ipstampInterceptor({ key: hs.privateJwk, ip: '127.0.0.1', now: () => T }));
    try {
      for (const origin of [a.origin, b.origin, a.origin]) await (await request(`${origin}/orders`, { dispatcher: agent })).body.text();
    } finally {
      await agent.close();
    }
    const iat = (seen: Seen) => claimsOf(seen.headers['client-ip-attestation']).iat;
    expect(a.seen.map(iat)).toEqual([T / 1000, T / 1000 + 240]);
    expect(b.seen.map(iat)).toEqual([T / 1000]);
  });
});

describe('many origins: what the SDK keeps per origin is bounded', () => {
  it(`ip: 'echo' over ${DEFAULT_MAX_ORIGINS + 1} origins: the first origin's address is forgotten (asked again), not kept for ever`, async () => {
    const echoes = new Map<string, number>();
    const stampedFetch = createStampedFetch({
      key: hs.privateJwk,
      ip: 'echo',
      fetch: async (input: string) => {
        const url = new URL(input);
        if (url.pathname === ECHO_PATH) {
          echoes.set(url.origin, (echoes.get(url.origin) ?? 0) + 1);
          return Response.json({ ip: '192.0.2.1' });
        }
        return new Response('ok');
      },
    });
    const origin = (i: number) => `https://o${i}.test`;
    for (let i = 0; i <= DEFAULT_MAX_ORIGINS; i++) await stampedFetch(`${origin(i)}/`);
    await stampedFetch(`${origin(DEFAULT_MAX_ORIGINS)}/`); // the newest is still held
    expect(echoes.get(origin(DEFAULT_MAX_ORIGINS))).toBe(1);
    await stampedFetch(`${origin(0)}/`); // the oldest was let go
    expect(echoes.get(origin(0))).toBe(2);
  });
});

describe('a redirect the SDK must not follow, or must follow without what belongs to the first origin (docs/client.md "Redirects")', () => {
  const notFollowed: [string, (b: Hostile) => string][] = [
    ['an ftp: URL', () => 'ftp://127.0.0.2/orders'],
    ['a file: URL', () => 'file:///etc/passwd'],
    ['a data: URL', () => 'data:text/plain,hello'],
    ['a javascript: URL', () => 'javascript:alert(1)'],
    ['a user name and password', (b) => `http://user:secret@${b.origin.slice(7)}/orders`],
    ['a user name alone', (b) => `http://user@${b.origin.slice(7)}/orders`],
    ['a password alone, scheme-relative', (b) => `//:secret@${b.origin.slice(7)}/orders`],
    ['a URL that does not parse', () => 'http://[::1/orders'],
  ];
  for (const [name, location] of notFollowed) {
    it(`a 307 to ${name}: ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED, its message without the URL; one request, to the first origin only`, async () => {
      reset(a, b);
      const target = location(b);
      a.route = (_seen, res) => void res.writeHead(307, { location: target }).end();
      const stampedFetch = createStampedFetch({ key: hs.privateJwk, ip: '127.0.0.1' });
      const error = await stampedFetch(`${a.origin}/orders`, { method: 'POST', body: 'x' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED' });
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error).message).not.toContain(':/');
      expect(a.seen).toHaveLength(1);
      expect(b.seen).toEqual([]);
    });
  }

  it('to another origin, Cookie and Proxy-Authorization are not sent on (as fetch does); to the same origin they are', async () => {
    // ALREADY-PINNED for Authorization: stamped-fetch-redirect.test.ts ("a 307 from A to another origin B").
    reset(a, b);
    a.route = (seen, res) => {
      if (seen.path === '/same') return void res.writeHead(307, { location: '/same-2' }).end();
      if (seen.path === '/cross') return void res.writeHead(307, { location: `${b.origin}/cross-2` }).end();
      res.end('ok');
    };
    const stampedFetch = createStampedFetch({ key: hs.privateJwk, ip: '127.0.0.1' });
    const headers = { cookie: 'session=for-a', 'proxy-authorization': 'Basic Zm9yLWE6eA==', 'x-trace': 't1' };
    expect((await stampedFetch(`${a.origin}/same`, { headers })).status).toBe(200);
    expect((await stampedFetch(`${a.origin}/cross`, { headers })).status).toBe(200);
    const same = a.seen.find((s) => s.path === '/same-2')!;
    expect(same.headers).toMatchObject(headers);
    const cross = b.seen.find((s) => s.path === '/cross-2')!;
    expect(cross.headers.cookie).toBeUndefined();
    expect(cross.headers['proxy-authorization']).toBeUndefined();
    expect(cross.headers['x-trace']).toBe('t1');
    expect(claimsOf(cross.headers['client-ip-attestation']).htu).toBe(`${b.origin}/cross-2`);
  });
});

/** Every string the error holds, its causes included, as inspect and JSON show them. */
function everythingIn(error: unknown): string {
  const own = (value: unknown) => (typeof value === 'object' && value !== null ? JSON.stringify(value, Object.getOwnPropertyNames(value)) : String(value));
  let text = inspect(error, { depth: 10, showHidden: true });
  for (let e: unknown = error, i = 0; e !== undefined && e !== null && i < 10; e = (e as { cause?: unknown }).cause, i++)
    text += own(e) + String((e as Error).stack);
  return text;
}

describe('key material never reaches an error, a header or a URL, whatever the server does (docs/client.md "Client errors")', () => {
  const failures = (key: TestKeyPair): [string, () => Promise<unknown>][] => [
    [
      'an echo that cannot be reached',
      () => createStampedFetch({ key: key.privateJwk, ip: 'echo', echoUrl: 'http://127.0.0.1:1/.well-known/ipstamp' })(`${a.origin}/x`),
    ],
    ['an echo answering no address', () => createStampedFetch({ key: key.privateJwk, ip: 'echo' })(`${a.origin}/garbage`)],
    ['a redirect to ftp:', () => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' })(`${a.origin}/to-ftp`)],
    ['a redirect loop', () => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' })(`${a.origin}/loop`)],
    [
      'a stream body with bodyDigest',
      () =>
        createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true })(`${a.origin}/x`, {
          method: 'POST',
          body: new ReadableStream({ start: (c) => c.close() }),
          duplex: 'half',
        } as RequestInit),
    ],
    [
      'a key whose point is off its curve, or a secret that is not base64url (refused at setup or at the import, with the WebCrypto error as the cause)',
      () =>
        createStampedFetch({ key: { ...key.privateJwk, ...(key.alg === 'HS256' ? { k: `${key.privateJwk.k!}!` } : { x: es.publicJwk.y }) }, ip: '127.0.0.1' })(
          `${a.origin}/x`,
        ),
    ],
    [
      'the interceptor, its echo answering no address',
      async () => {
        const agent = new Agent().compose(ipstampInterceptor({ key: key.privateJwk, ip: 'echo', echoUrl: `${a.origin}/garbage/.well-known/ipstamp` }));
        try {
          return await request(`${a.origin}/x`, { dispatcher: agent });
        } finally {
          await agent.close();
        }
      },
    ],
  ];
  const ticketFailures = (privateKey: Record<string, unknown>): [string, () => Promise<unknown>][] => {
    const publicJwk = { kty: 'EC', crv: 'P-256', x: es.publicJwk.x, y: es.publicJwk.y } as StampKey['publicJwk'];
    const withIssuer = (issuer: string, priv = privateKey) =>
      createStampedFetch({ key: { privateKey: priv as never, publicJwk, alg: 'ES256' }, ip: 'ticket', issuer })(`${a.origin}/x`);
    return [
      ['a ticket issuer refusing the proof', () => withIssuer(`${a.origin}/refuse`)],
      ['a ticket issuer answering no ticket', () => withIssuer(`${a.origin}/garbage`)],
      ['a ticket issuer that cannot be reached', () => withIssuer('http://127.0.0.1:1')],
      ['a ticket key whose point is off its curve', () => withIssuer(`${a.origin}/refuse`, { ...privateKey, x: es.publicJwk.y })],
    ];
  };

  it('ES256 (d) and HS256 (k) keys, every way a request can fail: no error, no request line, no header holds the secret', async () => {
    reset(a, b);
    a.route = (seen, res) => {
      if (seen.path.startsWith('/garbage')) return json(res, '{"ip":"no","ticket":1}');
      if (seen.path === '/to-ftp') return void res.writeHead(307, { location: 'ftp://127.0.0.1/' }).end();
      if (seen.path === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
      if (seen.path === '/refuse') return refuse(res, 'bad-header');
      res.end('ok');
    };
    const cases = [
      ...failures(es).map(([name, run]) => [`ES256: ${name}`, run, es.privateJwk.d!] as const),
      ...failures(hs).map(([name, run]) => [`HS256: ${name}`, run, hs.privateJwk.k!] as const),
      ...ticketFailures(es.privateJwk).map(([name, run]) => [name, run, es.privateJwk.d!] as const),
    ];
    for (const [name, run, secret] of cases) {
      // a key refused at setup throws before any promise: that error counts too
      const outcome = await Promise.resolve()
        .then(run)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(outcome, name).toBeInstanceOf(Error);
      const text = everythingIn(outcome);
      expect(text.includes(secret) || text.includes(Buffer.from(secret, 'base64url').toString('hex')), name).toBe(false);
    }
    const sent = JSON.stringify([...a.seen, ...b.seen]);
    for (const secret of [es.privateJwk.d!, hs.privateJwk.k!]) expect(sent).not.toContain(secret);
    expect(a.seen.length).toBeGreaterThan(20); // the loop and the proofs did reach the server
  });
});

describe('a refusal whose body is cut off, or never ends', () => {
  const cutOff: [string, Reason, 'echo' | 'ticket' | '127.0.0.1'][] = [
    ['401 expired', 'expired', '127.0.0.1'],
    ['403 ip-mismatch', 'ip-mismatch', 'echo'],
    ['401 bad-ticket', 'bad-ticket', 'ticket'],
  ];
  for (const [name, reason, ip] of cutOff) {
    it(`a ${name} cut off mid-body (ip: ${ip}) is returned as fetch returns it, its body failing when read; nothing is retried`, async () => {
      reset(a);
      a.route = (seen, res) => {
        if (seen.path === ECHO_PATH) return json(res, { ip: '127.0.0.1' });
        if (seen.path === TICKET_PATH) return json(res, ticketFor('127.0.0.1', Math.floor(Date.now() / 1000) + 300));
        res.writeHead(REASON_STATUS[reason], { 'content-type': 'application/problem+json', date: new Date(Date.now() + 2 * MINUTE).toUTCString() });
        res.write(`{"status":${REASON_STATUS[reason]},"reason":"${reason.slice(0, 3)}`, () => res.socket?.destroy());
      };
      const stampedFetch = ip === 'ticket' ? createStampedFetch({ key: ticketKey, ip, issuer: a.origin }) : createStampedFetch({ key: hs.privateJwk, ip });
      const response = await stampedFetch(`${a.origin}/orders`);
      expect(response.status).toBe(REASON_STATUS[reason]);
      await expect(response.text()).rejects.toThrow();
      expect(paths(a.seen, '/orders')).toBe(1);
    });
  }

  it(
    "a 401 problem+json whose body never ends: the caller's own signal ends the SDK's look at its reason, and the call returns",
    { timeout: 5000 },
    async () => {
      reset(a);
      a.route = (_seen, res) => {
        res.writeHead(401, { 'content-type': 'application/problem+json' });
        res.write('{"status":401,"reason":"exp');
      };
      const stampedFetch = createStampedFetch({ key: hs.privateJwk, ip: '127.0.0.1' });
      const response = await stampedFetch(`${a.origin}/orders`, { signal: AbortSignal.timeout(50) });
      expect(response.status).toBe(401);
      expect(a.seen).toHaveLength(1);
    },
  );
});
