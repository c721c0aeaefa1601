import type { FastifyInstance } from 'fastify';
import { sendServiceProblem } from '../fastify/problem.js';

/** For load-balancer health checks: no stamp needed, never forwarded. */
export const READY_PATH = '/.well-known/ipstamp/ready';

export interface Drain {
  /** From now on: readiness says 503, and every response closes its connection. */
  begin(): void;
}

/**
 * The readiness route and the drain: after `begin()` (SIGTERM), readiness answers 503
 * `shutting-down`, every response still to be written — the in-flight ones too — carries
 * `Connection: close`, and a keep-alive connection that falls idle is closed, so the
 * server's close completes right after the last response. Register before the catch-all routes.
 */
export function registerReadiness(app: FastifyInstance): Drain {
  let draining = false;
  app.get(READY_PATH, { config: { ipstamp: false } }, async (_request, reply) => {
    if (draining) return sendServiceProblem(reply, 'shutting-down');
    void reply.header('cache-control', 'no-store');
    return { ready: true };
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (draining && request.raw.httpVersionMajor === 1) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async () => {
    // a response that began before the drain (its head already sent) leaves an idle keep-alive connection
    if (draining) setImmediate(() => app.server.closeIdleConnections());
  });
  return {
    begin() {
      draining = true;
    },
  };
}
