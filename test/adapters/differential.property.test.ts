import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { serve } from '@hono/node-server';
import express from 'express';
import fc from 'fast-check';
import Fastify from 'fastify';
import { Hono, type MiddlewareHandler } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { ipstamp as fastifyIpstamp } from '../../server/fastify/plugin.js';
import { continueWhenBodyRead } from '../../server/hints/expect-continue.js';
import { ipstamp as honoIpstamp, nodeConnection, type IpStampVariables } from '../../server/hono/index.js';
import { ipstamp as honoWebIpstamp } from '../../server/hono/web.js';
import { ipstamp as nodeIpstamp, rawBodyVerify, trackPeerAddresses } from '../../server/node/index.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import type { Verdict } from '../../server/verify/types.js';
import { createWebVerifier } from '../../server/web/index.js';
import { rawExchange, type RawResponse } from '../cli/raw-http.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * The verdict does not depend on the framework: the same request bytes, from the same peer, get
 * the same status and reason — and on acceptance the same ip, agreement, source and kid — from
 * the Fastify plugin, `ipstamp/node` on node:http, `ipstamp/node` on Express 5, `ipstamp/hono`
 * and `ipstamp/hono/web` on `@hono/node-server`, and `createWebVerifier` behind a node:http →
 * Request bridge. Each has its own memory replay store (its required and optional routes share
 * it), the same keys (HS256, ES256), the same trusted proxy (127.0.0.2, so forwarding headers
 * are read), no `origins` (the Host header decides the origin, §5.1) and `onMismatch: 'flag'`
 * (a mismatch reaches the verdict fields). Every generated request goes to every adapter on its
 * own connection, from 127.0.0.2 or from 127.0.0.3, a stranger. Where adapters differ by their
 * documentation, `groupsOf` splits them off, each with its citation.
 */
const HOST = 'api.example.com';
const TRUSTED = '127.0.0.2';
const STRANGER = '127.0.0.3';
const CLIENT = '203.0.113.7';
const OTHER = '198.51.100.9';
const NAMES = ['fastify', 'node', 'express', 'hono', 'web', 'bridge'] as const;
type Name = (typeof NAMES)[number];

const keys: Record<'HS256' | 'ES256', TestKeyPair> = {} as never;
const ports = {} as Record<Name, number>;
const closers: (() => Promise<void>)[] = [];

/** What every route answers once ipstamp let the request through: the verdict's fields, or null. */
function echo(verdict: Verdict | null | undefined): string {
  return JSON.stringify(verdict ? { ip: verdict.ip, agreement: verdict.agreement, source: verdict.source, kid: verdict.kid } : null);
}

const isOptional = (url: string | undefined) => (url ?? '').includes('/opt/');

async function listen(server: Server): Promise<number> {
  trackPeerAddresses(server);
  continueWhenBodyRead(server);
  if (!server.listening) await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  keys.HS256 = await makeKey('HS256', 'diff-hs');
  keys.ES256 = await makeKey('ES256', 'diff-es');
  const options = () => ({
    keys: { keys: [keys.HS256.publicJwk, keys.ES256.publicJwk] },
    trustedProxies: [TRUSTED],
    onMismatch: 'flag' as const,
    replayStore: new MemoryReplayStore(),
  });

  // Fastify: one plugin, the optional route says so in its config (docs/fastify.md "required")
  const fastify = Fastify();
  await fastify.register(fastifyIpstamp, options());
  const answer = async (request: { ipStamp?: Verdict | null }, reply: { type: (t: string) => unknown }) => {
    reply.type('application/json');
    return echo(request.ipStamp);
  };
  fastify.all('/opt/*', { config: { ipstamp: { required: false } } }, answer);
  fastify.all('*', answer);
  await fastify.ready();
  ports.fastify = await listen(fastify.server);

  // node:http as docs/node.md "node:http" shows it: the body read, rawBodyVerify, then the middleware
  const nodeOptions = options();
  const nodeRequired = nodeIpstamp(nodeOptions);
  const nodeOptional = nodeIpstamp({ ...nodeOptions, required: false });
  const node = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      rawBodyVerify(req, res, Buffer.concat(chunks));
      (isOptional(req.url) ? nodeOptional : nodeRequired)(req, res, () =>
        res.setHeader('content-type', 'application/json').end(echo((req as IncomingMessage & { ipStamp?: Verdict | null }).ipStamp)),
      );
    });
  });
  ports.node = await listen(node);

  // Express 5 as docs/node.md "Express" shows it: the body parser with rawBodyVerify first
  const expressOptions = options();
  const expressRequired = nodeIpstamp(expressOptions);
  const expressOptional = nodeIpstamp({ ...expressOptions, required: false });
  const app = express();
  app.use(express.raw({ type: () => true, verify: rawBodyVerify }));
  app.use((req, res, next) => (isOptional(req.originalUrl) ? expressOptional : expressRequired)(req, res, next));
  app.use((req, res) => {
    res.type('application/json').send(echo(req.ipStamp));
  });
  ports.express = await listen(createServer(app));

  // Hono on @hono/node-server, the Node entry and the web entry (docs/hono.md, docs/web.md "On Node")
  const hono = (required: MiddlewareHandler, optional: MiddlewareHandler) => {
    const h = new Hono<{ Variables: IpStampVariables }>();
    h.use((c, next) => (isOptional((c.env as { incoming: IncomingMessage }).incoming.url) ? optional : required)(c, next));
    h.all('*', (c) => c.body(echo(c.get('ipStamp')), 200, { 'content-type': 'application/json' }));
    return serve({ fetch: h.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  };
  const honoOptions = options();
  ports.hono = await listen(hono(honoIpstamp(honoOptions), honoIpstamp({ ...honoOptions, required: false })));
  const webOptions = { ...options(), connection: nodeConnection };
  ports.web = await listen(hono(honoWebIpstamp(webOptions), honoWebIpstamp({ ...webOptions, required: false })));

  // createWebVerifier itself behind a node:http → Request bridge, as a runtime hands a Request
  // over (docs/web.md): the URL parsed, the header lines appended in order, a body only when the
  // head announces one and the method may carry it, the peer as the socket reports it
  const web = createWebVerifier(options());
  const bridge = createServer((req, res) => {
    let request: Request;
    try {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      const announced = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
      const body = announced && req.method !== 'GET' && req.method !== 'HEAD' ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {};
      request = new Request(new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`), { method: req.method, headers, ...body } as RequestInit);
    } catch {
      return void res.writeHead(400).end();
    }
    void web.verify(request, { l3: req.socket.remoteAddress }, { required: !isOptional(req.url) }).then((result) => {
      if (result.ok) return void res.writeHead(200, { 'content-type': 'application/json' }).end(echo(result.verdict));
      res.writeHead(result.status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ reason: result.reason }));
    });
  });
  ports.bridge = await listen(bridge);
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

// ---------------------------------------------------------------------------------------------
// The request model and its generators

type Target = 'plain' | 'dots' | 'dot' | 'percent' | 'query' | 'absolute' | 'asterisk';
type HostForm = 'exact' | 'upper' | 'port' | 'default-port' | 'missing' | 'duplicate' | 'twice' | 'listener';
type StampKind = 'none' | 'valid' | 'other-path' | 'other-method' | 'expired' | 'replay' | 'forged';
type Spelling = 'canonical' | 'lower' | 'upper' | 'underscore' | 'twice' | 'obs-fold' | 'spaces';
type Forwarding = 'none' | 'xff-one' | 'xff-many' | 'xff-spoof' | 'forwarded' | 'x-real-ip' | 'underscore';
type BodyForm = 'none' | 'content-length' | 'chunked';
type Digest = 'none' | 'match' | 'other' | 'empty';

interface Case {
  peer: string;
  method: string;
  cors: boolean;
  optional: boolean;
  target: Target;
  segment: string;
  host: HostForm;
  scheme: 'http' | 'https';
  proto: boolean;
  stamp: StampKind;
  alg: 'HS256' | 'ES256';
  ip: string;
  spelling: Spelling;
  forwarding: Forwarding;
  body: BodyForm;
  bodyText: string;
  digest: Digest;
  expect100: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  peer: fc.constantFrom(TRUSTED, STRANGER),
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'OPTIONS', 'get', 'post'),
  cors: fc.boolean(),
  optional: fc.boolean(),
  target: fc.constantFrom<Target>('plain', 'dots', 'dot', 'percent', 'query', 'absolute', 'asterisk'),
  segment: fc.stringMatching(/^[a-z0-9]{1,6}$/),
  host: fc.constantFrom<HostForm>('exact', 'exact', 'exact', 'upper', 'port', 'default-port', 'missing', 'duplicate', 'twice', 'listener'),
  scheme: fc.constantFrom('http' as const, 'https' as const),
  proto: fc.boolean(),
  stamp: fc.constantFrom<StampKind>('none', 'valid', 'valid', 'valid', 'valid', 'other-path', 'other-method', 'expired', 'replay', 'forged'),
  alg: fc.constantFrom('HS256' as const, 'ES256' as const),
  ip: fc.constantFrom(TRUSTED, STRANGER, CLIENT, OTHER),
  spelling: fc.constantFrom<Spelling>('canonical', 'canonical', 'canonical', 'lower', 'upper', 'underscore', 'twice', 'obs-fold', 'spaces'),
  forwarding: fc.constantFrom<Forwarding>('none', 'none', 'xff-one', 'xff-many', 'xff-spoof', 'forwarded', 'x-real-ip', 'underscore'),
  body: fc.constantFrom<BodyForm>('none', 'content-length', 'chunked'),
  bodyText: fc.stringMatching(/^[a-zA-Z0-9 {}":,]{0,40}$/),
  digest: fc.constantFrom<Digest>('none', 'match', 'other', 'empty'),
  expect100: fc.boolean(),
});

/** The path of the target as sent, and the path a stamp for "this request" signs. */
function targetOf(c: Case): { target: (port: number) => string; signedPath: string } {
  const base = `/${c.optional ? 'opt' : 'v'}/${c.segment}`;
  switch (c.target) {
    case 'plain':
      return { target: () => base, signedPath: base };
    case 'dots':
      return { target: () => `${base}/x/../y`, signedPath: `${base}/x/../y` };
    case 'dot':
      return { target: () => `${base}/./y`, signedPath: `${base}/./y` };
    case 'percent':
      return { target: () => `${base}/%61%2Fb%20`, signedPath: `${base}/%61%2Fb%20` };
    case 'query':
      return { target: () => `${base}?q=%20a&r=/x`, signedPath: base };
    case 'absolute':
      return { target: () => `http://${HOST}${base}`, signedPath: base };
    case 'asterisk':
      return { target: () => '*', signedPath: '/' };
  }
}

/** Everything about a case that is the same for every adapter: the stamp and the header block but Host. */
interface Prepared {
  head: (port: number) => string;
  body: string;
  replay: boolean;
}

const ATTESTATION_SPELLING: Record<Exclude<Spelling, 'twice' | 'obs-fold'>, string> = {
  canonical: 'Client-IP-Attestation: ',
  lower: 'client-ip-attestation: ',
  upper: 'CLIENT-IP-ATTESTATION: ',
  underscore: 'Client_IP_Attestation: ',
  spaces: 'Client-IP-Attestation:   ',
};

async function prepare(c: Case): Promise<Prepared> {
  const method = c.method;
  const origin = `${c.scheme}://${HOST}`;
  const { target, signedPath } = targetOf(c);
  const body = c.body === 'none' ? '' : c.bodyText;
  const lines: ((port: number) => string)[] = [];
  const header = (line: string) => lines.push(() => line);

  if (c.stamp !== 'none') {
    const stamper = createStamper({ key: keys[c.alg].privateJwk, ip: c.ip, bodyDigest: c.digest !== 'none' });
    const path = c.stamp === 'other-path' ? `${signedPath}x` : signedPath;
    const htm = c.stamp === 'other-method' ? (method.toUpperCase() === 'PUT' ? 'PATCH' : 'PUT') : method.toUpperCase();
    const now = c.stamp === 'expired' ? () => Date.now() - 3_600_000 : Date.now;
    let token = await stamper.stamp({
      method: htm,
      url: `${origin}${path}`,
      claims: { htu: `${origin}${path}`, htm },
      body: c.digest === 'other' ? `${body}!` : c.digest === 'empty' ? '' : body,
      now,
    });
    if (c.stamp === 'forged') token = `${token.slice(0, -4)}AAAA`;
    if (c.spelling === 'twice') {
      header(`Client-IP-Attestation: ${token}`);
      header(`client-ip-attestation: ${token}`);
    } else if (c.spelling === 'obs-fold') {
      const cut = token.indexOf('.') + 1;
      header(`Client-IP-Attestation: ${token.slice(0, cut)}`);
      header(` ${token.slice(cut)}`);
    } else header(`${ATTESTATION_SPELLING[c.spelling]}${token}${c.spelling === 'spaces' ? '   ' : ''}`);
  }

  switch (c.forwarding) {
    case 'xff-one':
      header(`X-Forwarded-For: ${CLIENT}`);
      break;
    case 'xff-many':
      header(`X-Forwarded-For: ${OTHER}, 10.1.2.3, ${CLIENT}`);
      break;
    case 'xff-spoof':
      header(`X-Forwarded-For: ${c.ip}`);
      break;
    case 'forwarded':
      header(`Forwarded: for=${CLIENT};proto=https`);
      break;
    case 'x-real-ip':
      header(`X-Real-IP: ${CLIENT}`);
      break;
    case 'underscore':
      header(`X_Forwarded_For: ${CLIENT}`);
      break;
    case 'none':
      break;
  }
  if (c.proto) header('X-Forwarded-Proto: https');
  if (c.method === 'OPTIONS' && c.cors) {
    header('Origin: https://app.example');
    header('Access-Control-Request-Method: POST');
  }
  if (c.body !== 'none') {
    header('Content-Type: text/plain');
    if (c.expect100) header('Expect: 100-continue');
    header(c.body === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${Buffer.byteLength(body)}`);
  }
  header('Connection: close');

  const host = (port: number): string[] => {
    switch (c.host) {
      case 'exact':
        return [`Host: ${HOST}`];
      case 'upper':
        return [`HOST: ${HOST.toUpperCase()}`];
      case 'port':
        return [`Host: ${HOST}:8443`];
      case 'default-port':
        return [`Host: ${HOST}:${c.scheme === 'https' ? 443 : 80}`];
      case 'missing':
        return [];
      case 'duplicate':
        return [`Host: ${HOST}`, 'Host: other.example'];
      case 'twice':
        return [`Host: ${HOST}`, `Host: ${HOST}`];
      case 'listener':
        return [`Host: 127.0.0.1:${port}`];
    }
  };
  const framed = c.body === 'chunked' ? (body.length > 0 ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : '0\r\n\r\n') : body;
  return {
    head: (port) => [`${method} ${target(port)} HTTP/1.1`, ...host(port), ...lines.map((line) => line(port))].join('\r\n') + '\r\n\r\n',
    body: framed,
    replay: c.stamp === 'replay',
  };
}

/** One answer as compared: `status reason` for a problem+json, `status {verdict}` for ours, else `status`. */
function summary(response: RawResponse | undefined, head: boolean): string {
  if (response === undefined) return 'no answer';
  const type = response.headers.find(([name]) => name === 'content-type')?.[1] ?? '';
  if (head) return `${response.status}`; // a HEAD answer has no body to read a reason from (RFC 9110 §9.3.2)
  if (type.startsWith('application/problem+json')) return `${response.status} ${(JSON.parse(response.body) as { reason?: string }).reason ?? '?'}`;
  if (response.status === 200 && type.startsWith('application/json')) return `200 ${response.body}`;
  return `${response.status}`;
}

/** Sends the case once to `port` from its peer; a client waits for `100 Continue` before its body when it asked for one. */
async function sendOnce(port: number, c: Case, prepared: Prepared): Promise<string> {
  const head = prepared.head(port);
  const waitFor100 = c.expect100 && c.body !== 'none';
  const exchange = await rawExchange(
    port,
    (socket) => {
      socket.write(head);
      if (!waitFor100) {
        socket.write(prepared.body);
        return;
      }
      let seen = '';
      let sent = false;
      socket.on('data', (d: string) => {
        seen += d;
        if (!sent && seen.startsWith('HTTP/1.1 100')) {
          sent = true;
          socket.write(prepared.body);
        }
      });
    },
    { localAddress: c.peer, giveUpMs: 3000, resetIsClose: true },
  );
  return summary(
    exchange.responses.find((r) => r.status >= 200),
    c.method === 'HEAD',
  );
}

/** What each adapter answered: the one answer, or for a replay the first and the second. */
async function run(c: Case): Promise<Record<Name, string>> {
  const prepared = await prepare(c);
  const answers = await Promise.all(
    NAMES.map(async (name) => {
      const first = await sendOnce(ports[name], c, prepared);
      return prepared.replay ? `${first} / then ${await sendOnce(ports[name], c, prepared)}` : first;
    }),
  );
  return Object.fromEntries(NAMES.map((name, i) => [name, answers[i]!])) as Record<Name, string>;
}

/**
 * The groups of adapters whose answers must agree for `c`: all six, but for the documented
 * exceptions, split off into groups of their own. `closed`: the adapters that documentedly
 * cannot see the body a `cdg` signs; they agree with each other and never accept.
 */
function groupsOf(c: Case): { groups: Name[][]; closed: Name[] } {
  const apart = new Set<Name>();
  const closed = new Set<Name>();
  const preflight = c.method === 'OPTIONS' && c.cors; // never stamp-checked (PROTOCOL §5.2)
  const digested = c.stamp !== 'none' && c.spelling !== 'underscore' && c.digest !== 'none' && !preflight;
  const hasBody = c.body === 'chunked' || (c.body === 'content-length' && c.bodyText.length > 0);
  if (digested && c.body === 'chunked') {
    // docs/hono.md "Body digests" and docs/web.md (`bodyLimit`): a body sent without
    // Content-Length (chunked) is not read before verification and its `cdg` fails closed
    closed.add('hono').add('web').add('bridge');
  }
  if (digested && hasBody && (c.method === 'GET' || c.method === 'HEAD')) {
    // docs/fastify.md "Body digests": a body on GET, HEAD or TRACE, which Fastify does not parse,
    // is unknown and a `cdg` fails closed. @hono/node-server drops it from the web Request too,
    // and ipstamp/hono and ipstamp/web fail closed alike (server/hono/glue.ts bodyForDigest,
    // server/web/web-verifier.ts bodyForDigest; not in docs/hono.md or docs/web.md). ipstamp/node reads
    // what the body parser read, so node and Express check it.
    closed.add('fastify').add('hono').add('web').add('bridge');
  }
  if (c.target === 'asterisk') {
    // @hono/node-server answers a target that is neither origin- nor absolute-form (`*`) `400`
    // with no body before the app runs (buildUrl: "Invalid URL"): ipstamp never sees it. Not in
    // docs/hono.md; refused either way (a contract question, not a verdict of ipstamp's)
    apart.add('hono').add('web');
  }
  if (c.target === 'dots' || c.target === 'dot' || c.target === 'absolute') {
    // docs/web.md "What differs from Node": createWebVerifier reads the path of `request.url`,
    // parsed, dot-segments removed (and an absolute-form target is just its path there), where
    // the adapters on Node, ipstamp/hono/web included, compare the target as sent (PROTOCOL §5
    // step 9; CHANGELOG "ipstamp/hono on Node checks an absolute-form target as sent")
    apart.add('bridge');
  }
  const closedHere = [...closed].filter((name) => !apart.has(name));
  const groups = [NAMES.filter((name) => !apart.has(name) && !closed.has(name)), closedHere, c.target === 'asterisk' ? (['hono', 'web'] as Name[]) : []].filter(
    (group) => group.length > 0,
  );
  return { groups, closed: closedHere };
}

/** Why `answers` break the promise for `c`, or undefined. */
function disagreement(c: Case, answers: Record<Name, string>): string | undefined {
  const { groups, closed } = groupsOf(c);
  const split = groups.some((group) => group.some((name) => answers[name] !== answers[group[0]!]));
  const open = closed.filter((name) => answers[name]!.startsWith('200'));
  return split || open.length > 0 ? JSON.stringify({ case: c, groups, answers }, null, 1) : undefined;
}

describe('the same bytes get the same verdict from every adapter', () => {
  it('generated requests: status, reason and verdict fields agree', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const answers = await run(c);
        expect(disagreement(c, answers)).toBeUndefined();
      }),
      { numRuns: 150 },
    );
  });
});

describe('the documented differences are what the exceptions above say, no more', () => {
  const base: Case = {
    peer: STRANGER,
    method: 'POST',
    cors: false,
    optional: false,
    target: 'plain',
    segment: 'fixed',
    host: 'exact',
    scheme: 'http',
    proto: false,
    stamp: 'valid',
    alg: 'HS256',
    ip: STRANGER,
    spelling: 'canonical',
    forwarding: 'none',
    body: 'content-length',
    bodyText: 'abc',
    digest: 'match',
    expect100: false,
  };
  const accepted = `200 ${JSON.stringify({ ip: STRANGER, agreement: 'match', source: 'stamp', kid: 'diff-hs' })}`;
  const all = (answer: string) => Object.fromEntries(NAMES.map((name) => [name, answer])) as Record<Name, string>;

  const closed = '401 binding-mismatch';
  it.each<[string, Partial<Case>, Record<Name, string>]>([
    ['a Content-Length body with its cdg', {}, all(accepted)],
    [
      'a chunked body with its cdg: the web verifier does not read it (docs/hono.md "Body digests")',
      { body: 'chunked' },
      { fastify: accepted, node: accepted, express: accepted, hono: closed, web: closed, bridge: closed },
    ],
    ['a chunked body, no cdg', { body: 'chunked', digest: 'none' }, all(accepted)],
    [
      'a GET body with its cdg: only ipstamp/node sees it (docs/fastify.md "Body digests")',
      { method: 'GET' },
      { fastify: closed, node: accepted, express: accepted, hono: closed, web: closed, bridge: closed },
    ],
    ["a GET body with the empty body's cdg", { method: 'GET', digest: 'empty' }, all(closed)],
    [
      'OPTIONS *: @hono/node-server answers 400 before the app',
      { method: 'OPTIONS', target: 'asterisk', body: 'none' },
      { fastify: closed, node: closed, express: closed, hono: '400', web: '400', bridge: closed },
    ],
    [
      "a dot-segment path signed as sent: createWebVerifier's request.url has none (docs/web.md)",
      { target: 'dots' },
      { fastify: accepted, node: accepted, express: accepted, hono: accepted, web: accepted, bridge: closed },
    ],
    [
      'an absolute-form target: createWebVerifier reads its path (docs/web.md)',
      { target: 'absolute' },
      { fastify: closed, node: closed, express: closed, hono: closed, web: closed, bridge: accepted },
    ],
    // the bug this test found: Node kept the first of two Host lines, the web verifier's
    // Headers joins them; two Host lines name no one origin (RFC 9112 §3.2), refused by all
    ['two Host lines, the stamp for the first', { host: 'duplicate' }, all(closed)],
    ['two Host lines, the same twice', { host: 'twice' }, all(closed)],
  ])('%s', async (_label, change, expected) => {
    expect(await run({ ...base, ...change })).toEqual(expected);
  });
});
