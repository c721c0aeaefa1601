import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { createProxyProtocolServer } from '../hints/proxy-connection.js';
import { ipstamp } from '../fastify/plugin.js';

export interface DemoVerifier {
  readonly app: FastifyInstance;
  /** The route the demo and the attack catalog use. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A Fastify app with the ipstamp plugin, its server wrapped in the PROXY protocol layer:
 * headers are honoured from `loadBalancer` only; a PROXY header from anyone else closes
 * the connection. `/orders` answers with the verdict's address and how it was decided.
 */
export async function startDemoVerifier(options: { publicJwk: Record<string, unknown>; loadBalancer: string }): Promise<DemoVerifier> {
  const serverFactory: FastifyServerFactory<Server> = (handler) =>
    createProxyProtocolServer(handler, { trustedProxies: [options.loadBalancer], proxyProtocol: 'required' });
  const app = Fastify({ logger: false, serverFactory });
  await app.register(ipstamp, { keys: { keys: [options.publicJwk] }, trustedProxies: [options.loadBalancer], onMismatch: 'reject' });
  app.all('/orders', async (request) => {
    const verdict = request.ipStamp;
    return { ip: verdict?.ip, agreement: verdict?.agreement, decidedBy: verdict?.hints.decidedBy };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}/orders`, port, close: () => app.close() };
}
