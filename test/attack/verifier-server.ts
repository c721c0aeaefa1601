import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { installProxyProtocol, proxyHeaderOf } from '../../server/hints/proxy-connection.js';
import { l4AddressOf } from '../../server/hints/proxy-header.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { REASON_TITLES } from '../../shared/reasons.js';

/**
 * A bare node:http verifier for harness tests: the real PROXY connection layer in front,
 * `verify` deciding, problem+json out. Tests swap `verify` to open holes.
 */
export interface TestVerifierServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export interface TestVerifierOptions {
  verify(input: VerifyInput): Promise<VerifyResult>;
  /** Peers whose PROXY headers the connection layer honours (others are closed on sight). */
  proxyPeers: readonly string[];
  /** Serve https with this key and certificate (PEM), without the PROXY layer (it is not for TLS servers). */
  tls?: { key: string; cert: string };
  /**
   * Serve only this route (the echo route aside): another path gets 404, another method on
   * the path 405, both without an ipstamp reason, as a framework's router answers them.
   */
  route?: { method: string; path: string };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return size === 0 ? undefined : Buffer.concat(chunks);
}

export function inputOf(req: IncomingMessage, body: Uint8Array | undefined): VerifyInput {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    body,
    protocol: 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http',
    hints: { l3: req.socket.remoteAddress, l4: l4AddressOf(proxyHeaderOf(req.socket)) },
  };
}

export async function startVerifierServer(options: TestVerifierOptions): Promise<TestVerifierServer> {
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const body = await readBody(req);
      const input = inputOf(req, body);
      if (req.url === '/.well-known/ipstamp') {
        const { hints } = await options.verify({ ...input, required: false });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ ip: hints.observed ?? hints.l3 }));
        return;
      }
      const { route } = options;
      if (route) {
        const path = (req.url ?? '/').split('?')[0];
        if (path !== route.path || req.method !== route.method) {
          res.writeHead(path === route.path ? 405 : 404, { 'content-type': 'text/plain', ...(path === route.path ? { allow: route.method } : {}) });
          res.end(path === route.path ? 'Method Not Allowed' : 'Not Found');
          return;
        }
      }
      const result = await options.verify(input);
      if (result.ok) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ip: result.verdict?.ip, agreement: result.verdict?.agreement }));
        return;
      }
      const { reason, status } = result;
      res.writeHead(status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: `urn:ipstamp:${reason}`, title: REASON_TITLES[reason], status, reason }));
    } catch {
      res.writeHead(500).end();
    }
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  if (!options.tls) installProxyProtocol(server, { trustedProxies: options.proxyPeers, proxyProtocol: 'optional' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/orders`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
