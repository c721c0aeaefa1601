import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { REASON_TITLES } from '../../shared/reasons.js';
import { STAMP_HEADER } from '../../shared/schema.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyResult } from '../../server/verify/types.js';
import { createVerifierCore } from '../../server/verify/verifier.js';
import { MapReplayStore } from '../support/map-store.js';

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
  keys: JWK[];
  verifier?: Partial<Omit<VerifierOptions, 'keys' | 'replayStore'>>;
  /**
   * Plays a NAT whose public address the test controls: the server trusts loopback peers and
   * reads `publicAddress` as if a trusted proxy had forwarded it. Off: observed = the TCP peer.
   */
  simulatePublicAddress?: boolean;
  /** After verifying, a route may answer something else (a 503 to retry, a redirect). */
  route?: (attempt: Attempt, index: number) => Reply | undefined;
}

export interface VerifyingServer {
  readonly origin: string;
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

function claimsOf(header: string | string[] | undefined): Record<string, unknown> | undefined {
  if (typeof header !== 'string') return undefined;
  const text = decodeBase64urlText(header.split('.')[1] ?? '');
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length === 0 ? undefined : new Uint8Array(Buffer.concat(chunks));
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body ?? '');
}

/** A node:http server on 127.0.0.1 that verifies every stamp with the real verifier core and serves the echo endpoint. */
export async function startVerifyingServer(options: VerifyingServerOptions): Promise<VerifyingServer> {
  const verifier = createVerifierCore({
    keys: { keys: options.keys },
    replayStore: new MapReplayStore(),
    ...(options.simulatePublicAddress ? { trustedProxies: 'loopback' } : {}),
    ...options.verifier,
  });
  const state = {
    attempts: [] as Attempt[],
    echoCount: 0,
    publicAddress: '198.51.100.7',
    echoAnswer: undefined as string | undefined,
    echoReply: undefined as Reply | undefined,
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const headers = options.simulatePublicAddress ? { ...req.headers, 'x-forwarded-for': state.publicAddress } : req.headers;
      const input = { method: req.method ?? 'GET', url: req.url ?? '/', headers, body, hints: { l3: req.socket.remoteAddress } };
      if (input.url === '/.well-known/ipstamp') {
        state.echoCount++;
        if (state.echoReply) return send(res, state.echoReply);
        const hints = verifier.hints(input);
        const ip = state.echoAnswer ?? hints.observed ?? hints.l3;
        return send(res, { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify({ ip }) });
      }
      const result = await verifier.verify(input);
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
        return send(res, routed);
      }
      if (!result.ok) {
        const problem = { type: `urn:ipstamp:${result.reason}`, title: REASON_TITLES[result.reason], status: result.status, reason: result.reason };
        return send(res, { status: result.status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify(problem) });
      }
      return send(res, { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result.verdict) });
    })().catch((error: unknown) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return Object.assign(state, {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
