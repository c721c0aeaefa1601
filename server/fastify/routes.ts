import type { FastifyInstance } from 'fastify';
import { ECHO_PATH } from '../../shared/constants.js';
import type { Verifier } from '../verify/verifier.js';
import { connectionHints } from '../verify/connection-hints.js';
import { echoAnswer } from '../verify/echo-answer.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText, type IpStampMetrics } from './metrics.js';
import { sendProblem } from './problem.js';

/**
 * PROTOCOL.md §6: the address this verifier observes for the caller (observed, else the TCP
 * peer). The hints come from the verifier itself, so the echo can never disagree with what
 * step 12 will compare against.
 */
export function registerEchoRoute(fastify: FastifyInstance, verifier: Verifier): void {
  fastify.get(ECHO_PATH, { config: { ipstamp: false } }, async (request, reply) => {
    const hints = verifier.hints({ headers: request.headers, hints: connectionHints(request.socket) });
    void reply.header('cache-control', 'no-store');
    // a peer unknown at accept (reset connection) has no address to echo: the same refusal a stamp would get
    if (hints.l3 === undefined) return sendProblem(reply, 'ip-unverifiable');
    return echoAnswer(verifier, hints.observed ?? hints.l3);
  });
}

export function registerMetricsRoute(fastify: FastifyInstance, metrics: IpStampMetrics, path: string): void {
  fastify.get(path, { config: { ipstamp: false } }, async (_request, reply) => {
    void reply.header('content-type', PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store');
    return prometheusText(metrics.snapshot());
  });
}
