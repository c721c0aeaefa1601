import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { REASON_TITLES } from '../../shared/reasons.js';
import { STAMP_HEADER } from '../../shared/schema.js';
import { installProxyProtocol, proxyHeaderOf } from '../../server/hints/proxy-connection.js';
import { l4AddressOf } from '../../server/hints/proxy-header.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { Verdict, VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MapReplayStore } from './map-store.js';

/** One request the server saw, with what its stamp claimed and what the verifier said. */
export interface Attempt {
  method: string;
  path: string;
  l3: string | undefined;
  headers: IncomingMessage['headers'];
  claims: Record<string, unknown> | undefined;
  result: VerifyResult;
  status: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface VerifyingServerOptions {
  /** What decides each request. Default: the real verifier core over `keys` and `verifier`, with a fresh replay store. */
  verify?: (input: VerifyInput) => Promise<VerifyResult>;
  keys?: JWK[];
  verifier?: Partial<Omit<VerifierOptions, 'keys' | 'replayStore'>>;
  /**
   * Plays a NAT whose public address the test controls: the server trusts loopback peers and
   * reads `publicAddress` as if a trusted proxy had forwarded it. Off: observed = the TCP peer.
   */
  simulatePublicAddress?: boolean;
  /** Puts the real PROXY connection layer in front, honouring these peers (others are closed on sight). */
  proxyPeers?: readonly string[];
  /** Serve https with this key and certificate (PEM), without the PROXY layer (it is not for TLS servers). */
  tls?: { key: string; cert: string };
  /**
   * Serve only this route (the echo route aside): another path gets 404, another method on
   * the path 405, both without an ipstamp reason, as a framework's router answers them.
   */
  only?: { method: string; path: string };
  /** After verifying, a route may answer something else (a 503 to retry, a redirect). */
  route?: (attempt: Attempt, index: number) => Reply | undefined;
  /** What an accepted request's JSON body shows (default: the whole verdict). */
  acceptedBody?: (verdict: Verdict | null) => unknown;
}

export interface VerifyingServer {
  /** `http(s)://127.0.0.1:PORT` */
  readonly origin: string;
  /** The protected route the harness tests aim at: `${origin}/orders`. */
  readonly url: string;
  readonly attempts: Attempt[];
  echoCount: number;
  /** With simulatePublicAddress: the address the server observes for every client. */
  publicAddress: string;
  /** Makes the echo endpoint answer this instead of what it observes (a lying or stale echo). */
  echoAnswer: string | undefined;
  /** Makes the echo endpoint answer this status and body instead. */
  echoReply: Reply | undefined;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;

function claimsOf(header: string | string[] | undefined): Record<string, unknown> | undefined {
  if (typeof header !== 'string') return undefined;
  const text = decodeBase64urlText(header.split('.')[1] ?? '');
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  // read whole: no bytes is the empty body a cdg may cover, never "unknown"
  return new Uint8Array(Buffer.concat(chunks));
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body ?? '');
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(value),
});

/** What the verifier sees of a node:http request: the socket's peer, the PROXY header's source, the scheme. */
function inputOf(req: IncomingMessage, body: Uint8Array | undefined, headers: IncomingMessage['headers'] = req.headers): VerifyInput {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers,
    body,
    protocol: 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http',
    hints: { l3: req.socket.remoteAddress, l4: l4AddressOf(proxyHeaderOf(req.socket)) },
  };
}

/**
 * A node:http(s) server on 127.0.0.1 that verifies every stamp (with the real verifier core, or
 * the `verify` a test hands it), serves the echo endpoint and answers refusals as problem+json.
 */
export async function startVerifyingServer(options: VerifyingServerOptions): Promise<VerifyingServer> {
  const verify =
    options.verify ??
    createVerifierCore({
      keys: { keys: options.keys ?? [] },
      replayStore: new MapReplayStore(),
      ...(options.simulatePublicAddress ? { trustedProxies: 'loopback' } : {}),
      ...options.verifier,
    }).verify;
  const acceptedBody = options.acceptedBody ?? ((verdict) => verdict);
  const state = {
    attempts: [] as Attempt[],
    echoCount: 0,
    publicAddress: '198.51.100.7',
    echoAnswer: undefined as string | undefined,
    echoReply: undefined as Reply | undefined,
  };

  const answer = async (req: IncomingMessage): Promise<Reply> => {
    const body = await readBody(req);
    const input = inputOf(req, body, options.simulatePublicAddress ? { ...req.headers, 'x-forwarded-for': state.publicAddress } : req.headers);
    if (input.url === '/.well-known/ipstamp') {
      state.echoCount++;
      if (state.echoReply) return state.echoReply;
      const { hints } = await verify({ ...input, required: false });
      return json(200, { ip: state.echoAnswer ?? hints.observed ?? hints.l3 }, { 'cache-control': 'no-store' });
    }
    const { only } = options;
    if (only) {
      const path = input.url.split('?')[0];
      if (path !== only.path) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
      if (input.method !== only.method) return { status: 405, headers: { 'content-type': 'text/plain', allow: only.method }, body: 'Method Not Allowed' };
    }
    const result = await verify(input);
    const attempt: Attempt = {
      method: input.method,
      path: input.url,
      l3: req.socket.remoteAddress,
      headers: req.headers,
      claims: claimsOf(req.headers[STAMP_HEADER]),
      result,
      status: result.ok ? 200 : result.status,
    };
    state.attempts.push(attempt);
    const routed = options.route?.(attempt, state.attempts.length - 1);
    if (routed) {
      attempt.status = routed.status;
      return routed;
    }
    if (result.ok) return json(200, acceptedBody(result.verdict));
    const { reason, status } = result;
    const problem = { type: `urn:ipstamp:${reason}`, title: REASON_TITLES[reason], status, reason };
    return { status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify(problem) };
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    answer(req).then(
      (reply) => send(res, reply),
      (error: unknown) => send(res, { status: 500, body: String(error) }),
    );
  };

  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  if (options.proxyPeers && !options.tls) installProxyProtocol(server, { trustedProxies: options.proxyPeers, proxyProtocol: 'optional' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  return Object.assign(state, {
    origin,
    url: `${origin}/orders`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
