import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp as fastifyIpstamp } from '../../server/fastify/plugin.js';
import { continueWhenBodyRead } from '../../server/hints/expect-continue.js';
import { createProxyProtocolServer, installProxyProtocol } from '../../server/hints/proxy-connection.js';
import { ipstamp as honoIpstamp, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as nodeIpstamp, rawBodyVerify, trackPeerAddresses } from '../../server/node/index.js';
import type { Verdict } from '../../server/verify/types.js';
import { parseResponses, rawExchange, type RawResponse } from '../cli/raw-http.js';
import { buildV2, inetAddress } from '../hints/proxy-v2-builder.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * One keep-alive TCP connection, several requests: nothing of an earlier request — its verdict,
 * its body digest, its forwarding header, a PROXY header — may count for a later one, no byte of
 * a refused request's body may be answered as a request, and a PROXY header counts only as the
 * first bytes of a connection (PROTOCOL §4.1, §4.2: connection facts are read once, at accept).
 * The same raw bytes against the three adapters on Node, each behind the PROXY connection layer
 * (trusting 127.0.0.2; one server per adapter for each `proxyProtocol` mode) and with
 * `continueWhenBodyRead`; clients connect from 127.0.0.x.
 */
const PROXY_PEER = '127.0.0.2';
const CLIENT = '127.0.0.1';
const STRANGER = '127.0.0.3';
type Mode = 'optional' | 'required';
type AdapterName = 'fastify' | 'node' | 'hono';
const NAMES: AdapterName[] = ['fastify', 'node', 'hono'];

let key: TestKeyPair;
/** What each adapter's route handler saw, one line per request it ran for: `path ip=… l4=… observed=… body=…`. */
const seen: Record<AdapterName, string[]> = { fastify: [], node: [], hono: [] };
const ports: Record<Mode, Record<AdapterName, number>> = { optional: {} as never, required: {} as never };
const closers: (() => Promise<void>)[] = [];
const servers: Record<Mode, Record<AdapterName, Server>> = { optional: {} as never, required: {} as never };

function record(adapter: AdapterName, path: string, verdict: Verdict | null | undefined, body: string): string {
  const line = `${path} ip=${verdict?.ip ?? '-'} l4=${verdict?.hints.l4 ?? '-'} observed=${verdict?.hints.observed ?? '-'} body=${body}`;
  seen[adapter].push(line);
  return line;
}

async function listening(server: Server): Promise<number> {
  if (!server.listening) await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

const closeServer = (server: Server) => () =>
  new Promise<void>((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });

/** A plain node:http server (node's own or Hono's) behind the PROXY layer, listening. */
async function layered(mode: Mode, name: 'node' | 'hono', server: Server, layer: Parameters<typeof installProxyProtocol>[1]): Promise<void> {
  installProxyProtocol(server, layer);
  trackPeerAddresses(server);
  continueWhenBodyRead(server);
  ports[mode][name] = await listening(server);
  servers[mode][name] = server;
  closers.push(closeServer(server));
}

async function startAll(mode: Mode): Promise<void> {
  const keys = { keys: [key.publicJwk] };
  const verifierOptions = { keys, trustedProxies: [PROXY_PEER] };
  const layer = { trustedProxies: [PROXY_PEER], proxyProtocol: mode };

  const fastify = Fastify({ serverFactory: (handler) => createProxyProtocolServer(handler, layer) });
  await fastify.register(fastifyIpstamp, verifierOptions);
  fastify.all('*', async (request) => record('fastify', request.url, request.ipStamp, typeof request.body === 'string' ? request.body : ''));
  continueWhenBodyRead(fastify.server);
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  ports[mode].fastify = await listening(fastify.server);
  servers[mode].fastify = fastify.server;
  closers.push(() => fastify.close());

  // node:http as Express would run it: a body parser first (on /read only), then the middleware
  const middleware = nodeIpstamp(verifierOptions);
  const node = createServer((req, res) => {
    const answer = (body: string) =>
      middleware(req, res, () => res.end(record('node', req.url ?? '', (req as IncomingMessage & { ipStamp?: Verdict | null }).ipStamp, body)));
    if (!req.url?.startsWith('/read')) return answer('');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      rawBodyVerify(req, res, body);
      answer(body.toString('latin1'));
    });
  });
  await layered(mode, 'node', node, layer);

  const app = new Hono<{ Variables: IpStampVariables }>();
  app.use(honoIpstamp(verifierOptions));
  // a body read a reset cut short fails here: answered, not logged as Hono's default would
  app.onError((_error, c) => c.text('error', 500));
  app.all('*', async (c) => c.text(record('hono', c.req.path, c.get('ipStamp'), c.req.method === 'GET' ? '' : await c.req.text())));
  const hono = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  // in this tick, before the listening socket accepts anything
  await layered(mode, 'hono', hono, layer);
}

beforeAll(async () => {
  key = await makeKey('HS256', 'reuse-hs');
  await startAll('optional');
  await startAll('required');
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

/** A stamp for `method path` on `port`, signed as `ip`, with a `cdg` over `body` when one is given. */
function stamp(port: number, method: string, path: string, ip: string, body?: string): Promise<string> {
  const stamper = createStamper({ key: key.privateJwk, ip, bodyDigest: body !== undefined });
  return stamper.stamp({ method, url: `http://127.0.0.1:${port}${path}`, body });
}

/** A request's bytes: the stamp (if any) and extra header lines, then `body` framed by Content-Length. */
function request(
  port: number,
  method: string,
  path: string,
  { token, headers = [], body }: { token?: string; headers?: string[]; body?: string } = {},
): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...(token === undefined ? [] : [`Client-IP-Attestation: ${token}`]), ...headers];
  if (body !== undefined) lines.push('Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

interface Exchange {
  responses: RawResponse[];
  /** Each response as `status reason` (a refusal) or `status body` (anything else). */
  answers: string[];
  closed: boolean;
  text: string;
}

function answerOf(response: RawResponse): string {
  if (response.headers.some(([name, value]) => name === 'content-type' && value.startsWith('application/problem+json'))) {
    return `${response.status} ${(JSON.parse(response.body) as { reason: string }).reason}`;
  }
  return `${response.status} ${response.body}`.trim();
}

/**
 * Writes each step on one connection from `localAddress` and reads until the server closes it
 * (a reset counts as a close). A step after the first is written once that many final answers
 * have come (`stepwise`), else right after the previous write (the bytes may reach the server
 * together, as pipelining).
 */
async function exchange(
  port: number,
  steps: (string | Buffer)[],
  { localAddress = CLIENT, stepwise = false, giveUpMs = 5000 }: { localAddress?: string; stepwise?: boolean; giveUpMs?: number } = {},
): Promise<Exchange> {
  const raw = await rawExchange(
    port,
    (socket) => {
      socket.setNoDelay(true);
      let text = '';
      let next = 0;
      const finals = () => parseResponses(text).filter((r) => r.status >= 200).length;
      const writeDue = () => {
        while (next < steps.length && !socket.destroyed && (!stepwise || finals() >= next)) socket.write(steps[next++]!);
      };
      socket.on('data', (d: string) => {
        text += d;
        writeDue();
      });
      writeDue();
    },
    { localAddress, giveUpMs, resetIsClose: true },
  );
  return { ...raw, answers: raw.responses.filter((r) => r.status >= 200).map(answerOf) };
}

const v1 = (source: string) => `PROXY TCP4 ${source} 127.0.0.1 40000 80\r\n`;
const v2 = (source: number[]) => buildV2({ address: inetAddress(source, [127, 0, 0, 1], 40000, 80) });
const CLOSE = ['Connection: close'];

/** Waits (polling, no timer) until the adapter's server holds no connection: whatever a reset set off has run. */
async function idle(name: AdapterName, mode: Mode): Promise<void> {
  const server = servers[mode][name];
  for (let polls = 0; (await new Promise<number>((done) => server.getConnections((_, n) => done(n)))) > 0; polls++) {
    if (polls > 5000) throw new Error(`${name} kept a connection`);
    await new Promise((done) => setImmediate(done));
  }
}

describe.each(NAMES)('%s: one keep-alive connection, several requests', (name) => {
  const port = () => ports.optional[name];
  /** A stamp for the optional server, from the plain client. */
  const signed = (path: string, method = 'GET', body?: string) => stamp(port(), method, path, CLIENT, body);
  const last = async (path: string) => request(port(), 'GET', path, { token: await signed(path), headers: CLOSE });
  const served = (path: string, ip = CLIENT, l4 = '-', body = '') => `${path} ip=${ip} l4=${l4} observed=${l4 === '-' ? ip : l4} body=${body}`;

  it('pipelined in one write: a verdict, a stamp and a body digest stay with their own request', async () => {
    seen[name].length = 0;
    const p = port();
    const unstamped = await exchange(p, [request(p, 'GET', '/k1', { token: await signed('/k1') }) + request(p, 'GET', '/k1', { headers: CLOSE })]);
    expect(unstamped.answers).toEqual([`200 ${served('/k1')}`, '401 missing']);

    const token = await signed('/k2');
    const again = await exchange(p, [request(p, 'GET', '/k2', { token }) + request(p, 'GET', '/k2', { token, headers: CLOSE })]);
    expect(again.answers).toEqual([`200 ${served('/k2')}`, '401 replay']);

    // the digest is of each request's own bytes: neither the first body nor its verdict carries over
    const digested = await signed('/read/k3', 'POST', 'body-A');
    const otherBody = await exchange(p, [
      request(p, 'POST', '/read/k3', { token: digested, body: 'body-A' }) + request(p, 'POST', '/read/k3', { token: digested, body: 'body-B', headers: CLOSE }),
    ]);
    expect(otherBody.answers).toEqual([`200 ${served('/read/k3', CLIENT, '-', 'body-A')}`, '401 binding-mismatch']);
    const late = await signed('/read/k4', 'POST', 'body-A');
    const wrongFirst = await exchange(p, [
      request(p, 'POST', '/read/k4', { token: late, body: 'body-B' }) + request(p, 'POST', '/read/k4', { token: late, body: 'body-A', headers: CLOSE }),
    ]);
    // a binding failure comes before the replay check (§5): the stamp was not spent on the wrong body
    expect(wrongFirst.answers).toEqual(['401 binding-mismatch', `200 ${served('/read/k4', CLIENT, '-', 'body-A')}`]);
    expect(seen[name]).toEqual([served('/k1'), served('/k2'), served('/read/k3', CLIENT, '-', 'body-A'), served('/read/k4', CLIENT, '-', 'body-A')]);
  });

  it("a refused request's body is never answered as a request: Content-Length or chunked, stampless or forged", async () => {
    seen[name].length = 0;
    const p = port();
    // what the body holds: an echo request, which would be answered 200 {"ip":…} if it were parsed as one
    const smuggled = request(p, 'GET', '/.well-known/ipstamp');
    const forged = (path: string) => signed(path, 'POST').then((token) => `${token.slice(0, -4)}AAAA`);
    const chunked = (path: string, token?: string) =>
      [
        `POST ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${p}`,
        ...(token ? [`Client-IP-Attestation: ${token}`] : []),
        'Content-Type: text/plain',
        'Transfer-Encoding: chunked',
        '',
        smuggled.length.toString(16),
        smuggled,
        '0',
        '',
        '',
      ].join('\r\n');
    const cases: [string, string, string][] = [
      ['stampless, Content-Length', request(p, 'POST', '/s1', { body: smuggled }), '401 missing'],
      ['forged, Content-Length', request(p, 'POST', '/s2', { token: await forged('/s2'), body: smuggled }), '401 bad-signature'],
      [
        'forged, Content-Length, a route that reads the body',
        request(p, 'POST', '/read/s3', { token: await forged('/read/s3'), body: smuggled }),
        '401 bad-signature',
      ],
      ['stampless, chunked', chunked('/s4'), '401 missing'],
      ['forged, chunked', chunked('/s5', await forged('/s5')), '401 bad-signature'],
    ];
    for (const [index, [label, refused, refusal]] of cases.entries()) {
      const r = await exchange(p, [refused + (await last(`/after-${index}`))]);
      expect(r.answers, label).toEqual([refusal, `200 ${served(`/after-${index}`)}`]);
    }
    // framing a parser could read two ways is refused whole, and closes the connection
    const ambiguous = [
      `POST /s6 HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: ${smuggled.length + 5}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `POST /s7 HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    ];
    for (const bytes of ambiguous) {
      const r = await exchange(p, [bytes + (await last('/s-never'))]);
      expect(
        r.responses.map((response) => response.status),
        bytes,
      ).toEqual([400]);
      expect(r.closed).toBe(true);
    }
    expect(seen[name]).toEqual(cases.map((_, index) => served(`/after-${index}`)));
  });

  it('Expect: 100-continue refused with no 100: the body sent anyway, and a request after the refusal, are never served', async () => {
    seen[name].length = 0;
    const p = port();
    const smuggled = request(p, 'GET', '/.well-known/ipstamp');
    const head = request(p, 'POST', '/e1', { headers: ['Expect: 100-continue'], body: '' }).replace('Content-Length: 0', `Content-Length: ${smuggled.length}`);
    // the client reads the refusal (`Connection: close`), then uploads anyway and asks again
    const r = await exchange(p, [head, smuggled + (await last('/e1-after'))], { stepwise: true });
    expect(r.responses.map((response) => response.status)).toEqual([401]);
    expect(r.answers).toEqual(['401 missing']);
    expect(r.closed).toBe(true);
    expect(seen[name]).toEqual([]);
  });

  it('a forwarding header from a trusted proxy counts for its own request only', async () => {
    seen[name].length = 0;
    const p = port();
    const as = (path: string) => stamp(p, 'GET', path, '203.0.113.9');
    const r = await exchange(
      p,
      [
        request(p, 'GET', '/x1', { token: await as('/x1'), headers: ['X-Forwarded-For: 203.0.113.9'] }) +
          request(p, 'GET', '/x2', { token: await as('/x2') }) +
          request(p, 'GET', '/x3', { token: await as('/x3'), headers: ['X-Forwarded-For: 198.51.100.4'] }) +
          request(p, 'GET', '/x4', { token: await as('/x4'), headers: ['X-Forwarded-For: 203.0.113.9', ...CLOSE] }),
      ],
      { localAddress: PROXY_PEER },
    );
    expect(r.answers).toEqual([`200 ${served('/x1', '203.0.113.9')}`, '403 ip-unverifiable', '403 ip-mismatch', `200 ${served('/x4', '203.0.113.9')}`]);
  });

  it("a PROXY header counts only as a connection's first bytes, from a trusted peer (required)", async () => {
    seen[name].length = 0;
    const q = ports.required[name];
    const as = (path: string, ip: string) => stamp(q, 'GET', path, ip);
    const client = '192.0.2.7';
    const spoofed = '198.51.100.1';
    // a second header on a kept-alive connection, after the first answer: not a header, a bad request
    const later = [
      [v1(client), v1(spoofed)],
      [v1(client), v2([198, 51, 100, 1])],
      [v2([192, 0, 2, 7]), v1(spoofed)],
    ] as const;
    for (const [index, [first, second]] of later.entries()) {
      const r = await exchange(
        q,
        [
          Buffer.concat([Buffer.from(first), Buffer.from(request(q, 'GET', `/p${index}`, { token: await as(`/p${index}`, client) }))]),
          Buffer.concat([Buffer.from(second), Buffer.from(request(q, 'GET', '/p-never', { token: await as('/p-never', spoofed), headers: CLOSE }))]),
        ],
        { localAddress: PROXY_PEER, stepwise: true },
      );
      expect(
        r.answers.map((a) => a.slice(0, 3)),
        String(index),
      ).toEqual(['200', '400']);
      expect(r.answers[0]).toBe(`200 ${served(`/p${index}`, client, client)}`);
      expect(r.closed).toBe(true);
    }
    // two headers at the start: the first counts, the second is the HTTP parser's (a bad request)
    for (const [index, start] of [Buffer.from(v1(client) + v1(spoofed)), Buffer.concat([v2([192, 0, 2, 7]), Buffer.from(v1(spoofed))])].entries()) {
      for (const ip of [client, spoofed]) {
        const r = await exchange(q, [Buffer.concat([start, Buffer.from(request(q, 'GET', '/p-twice', { token: await as('/p-twice', ip), headers: CLOSE }))])], {
          localAddress: PROXY_PEER,
        });
        expect(
          r.responses.map((response) => response.status),
          `${index} ${ip}`,
        ).toEqual([400]);
      }
    }
    // a header in one-byte writes is the same header
    const split = (header: Buffer | string, path: string) =>
      as(path, client).then((token) =>
        [...Buffer.from(header)].map((byte) => Buffer.from([byte])).concat(Buffer.from(request(q, 'GET', path, { token, headers: CLOSE }))),
      );
    for (const [path, header] of [
      ['/p-v1-split', v1(client)],
      ['/p-v2-split', v2([192, 0, 2, 7])],
    ] as const) {
      const r = await exchange(q, await split(header, path), { localAddress: PROXY_PEER });
      expect(r.answers).toEqual([`200 ${served(path, client, client)}`]);
    }
    // an untrusted peer's header, and a trusted peer without one: closed, never answered
    const untrusted = await exchange(q, [v1(client) + request(q, 'GET', '/p-untrusted', { token: await as('/p-untrusted', client), headers: CLOSE })], {
      localAddress: STRANGER,
    });
    const headerless = await exchange(q, [request(q, 'GET', '/p-headerless', { token: await as('/p-headerless', PROXY_PEER), headers: CLOSE })], {
      localAddress: PROXY_PEER,
    });
    expect([untrusted, headerless].map((r) => [r.text, r.closed])).toEqual([
      ['', true],
      ['', true],
    ]);
    expect(seen[name]).toEqual([
      ...later.map((_, index) => served(`/p${index}`, client, client)),
      served('/p-v1-split', client, client),
      served('/p-v2-split', client, client),
    ]);
  });

  it("a PROXY header counts only as a connection's first bytes, from a trusted peer (optional)", async () => {
    seen[name].length = 0;
    const p = port();
    const as = (path: string, ip: string) => stamp(p, 'GET', path, ip);
    const client = '192.0.2.7';
    // served as plain HTTP first (a trusted proxy's L7 traffic, a plain client): a header later is a bad request
    for (const [peer, ip, headers] of [
      [PROXY_PEER, '203.0.113.9', ['X-Forwarded-For: 203.0.113.9']],
      [STRANGER, STRANGER, []],
    ] as const) {
      const r = await exchange(
        p,
        [
          request(p, 'GET', '/o1', { token: await as('/o1', ip), headers: [...headers] }),
          v1(client) + request(p, 'GET', '/o-never', { token: await as('/o-never', client), headers: CLOSE }),
        ],
        {
          localAddress: peer,
          stepwise: true,
        },
      );
      expect(
        r.answers.map((a) => a.slice(0, 3)),
        peer,
      ).toEqual(['200', '400']);
      expect(r.answers[0], peer).toBe(`200 ${served('/o1', ip)}`);
    }
    // a header from an untrusted peer closes the connection here too
    const untrusted = await exchange(p, [v1(client) + request(p, 'GET', '/o-untrusted', { token: await as('/o-untrusted', client), headers: CLOSE })], {
      localAddress: STRANGER,
    });
    expect([untrusted.text, untrusted.closed]).toEqual(['', true]);
    // the header read at accept stays for every request on the connection; a later XFF from
    // that client is not a trusted proxy's
    const kept = await exchange(
      p,
      [
        v1(client) + request(p, 'GET', '/o2', { token: await as('/o2', client) }),
        request(p, 'GET', '/o3', { token: await as('/o3', client), headers: ['X-Forwarded-For: 10.9.9.9', ...CLOSE] }),
      ],
      { localAddress: PROXY_PEER, stepwise: true },
    );
    expect(kept.answers).toEqual([`200 ${served('/o2', client, client)}`, `200 ${served('/o3', client, client)}`]);
  });

  it('a client that resets halfway through a body: no crash, no unhandled rejection, the next connection served', async () => {
    seen[name].length = 0;
    const p = port();
    const full = 'y'.repeat(4000);
    const halves = [
      request(p, 'POST', '/read/r1', { token: await signed('/read/r1', 'POST', full), body: full }),
      request(p, 'POST', '/r2', { body: full }),
      request(p, 'POST', '/r3', { body: full, headers: ['Expect: 100-continue'] }),
    ].map((bytes) => bytes.slice(0, -2000));
    for (const half of halves) {
      await new Promise<void>((done) => {
        const socket = connect({ port: p, host: '127.0.0.1', localAddress: CLIENT });
        socket.on('error', () => {});
        socket.once('connect', () => socket.write(half, () => setImmediate(() => (socket.resetAndDestroy(), done()))));
      });
      await idle(name, 'optional');
      const next = await exchange(p, [await last('/r-next')]);
      expect(next.answers).toEqual([`200 ${served('/r-next')}`]);
    }
    expect(seen[name]).toEqual([served('/r-next'), served('/r-next'), served('/r-next')]);
  });

  it('header spelling: another name, two instances, a folded or malformed line', async () => {
    seen[name].length = 0;
    const p = port();
    const token = await signed('/h');
    const cut = token.indexOf('.') + 1;
    const cases: [string[], string][] = [
      [[`Client_IP_Attestation: ${token}`], '401 missing'],
      [[`client-ip-attestation: ${token}`, `Client-IP-Attestation: ${token}`], '401 malformed'],
      [[`client-ip-attestation: ${token.slice(0, cut)}`, ` ${token.slice(cut)}`], '400'],
      [[`client-ip-attestation: ${token}`, ' '], '400'],
      [[`client-ip-attestation : ${token}`], '400'],
    ];
    for (const [headers, expected] of cases) {
      const r = await exchange(p, [request(p, 'GET', '/h', { headers: [...headers, ...CLOSE] })]);
      expect(
        r.answers.map((a) => (a.startsWith('400') ? '400' : a)),
        headers.join(' / '),
      ).toEqual([expected]);
    }
    expect(seen[name]).toEqual([]);
  });
});

describe('continueWhenBodyRead: a connection closed after a refusal', () => {
  it('hands no later request to the app, an upgrade included', async () => {
    const events: string[] = [];
    const server = createServer((req, res) => {
      events.push(`request ${req.url}`);
      res.statusCode = 401;
      res.end();
    });
    server.on('upgrade', (req, socket: Socket) => {
      events.push(`upgrade ${req.url}`);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    });
    continueWhenBodyRead(server);
    const port = await listening(server);
    try {
      const head = 'POST /refused HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n';
      const later = 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
      const r = await exchange(port, [head, `12345${later}`], { stepwise: true });
      expect(r.responses.map((response) => response.status)).toEqual([401]);
      expect(events).toEqual(['request /refused']);
    } finally {
      await closeServer(server)();
    }
  });
});
