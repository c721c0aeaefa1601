import type { FastifyReply, FastifyRequest, preParsingAsyncHookHandler, preValidationAsyncHookHandler } from 'fastify';
import { STAMP_HEADER } from '../../shared/schema.js';
import { otherForwardingHeaderMessage, watchOtherForwardingHeader } from '../hints/other-forwarding-header.js';
import { compiledOptionsOf, type Verifier } from '../verify/verifier.js';
import type { VerifyInput } from '../verify/types.js';
import { connectionHints } from '../verify/connection-hints.js';
import type { IpStampMetrics } from './metrics.js';
import { sendProblem } from './problem.js';
import { rawBodyOf } from './raw-body.js';
import { routePolicy } from './route-config.js';

/** The plain data the verifier decides from (ARCHITECTURE.md: the core never sees the request). */
export function verifyInputOf(request: FastifyRequest, required: boolean): VerifyInput {
  return {
    method: request.method,
    // as received, before any rewriteUrl: htu was signed over what the client sent
    url: request.originalUrl,
    headers: request.headers,
    body: rawBodyOf(request),
    protocol: request.protocol,
    hints: connectionHints(request.socket),
    required,
  };
}

export interface VerifyHookSettings {
  readonly verifier: Verifier;
  readonly metrics: IpStampMetrics;
  readonly requireStamp: boolean;
}

export interface VerifyHooks {
  /**
   * Turns away a required route's stampless request before its body is read. In preParsing,
   * not onRequest: every onRequest hook (@fastify/cors's, registered before or after this
   * plugin) has run by then, so the refusal carries their headers and a page can read it.
   */
  readonly preParsing: preParsingAsyncHookHandler;
  /** Verifies after the body is parsed (so its bytes are known), before the handler. */
  readonly preValidation: preValidationAsyncHookHandler;
}

/**
 * Accepted → `request.ipStamp`; rejected → problem+json, logged once at info with the reason,
 * kid and hints. The token itself is never logged.
 */
export function createVerifyHooks({ verifier, metrics, requireStamp }: VerifyHookSettings): VerifyHooks {
  const otherForwardingHeader = watchOtherForwardingHeader(compiledOptionsOf(verifier));
  async function verifyRequest(request: FastifyRequest, reply: FastifyReply, required: boolean): Promise<void> {
    const input = verifyInputOf(request, required);
    const misconfigured = otherForwardingHeader(input);
    if (misconfigured) request.log.warn({ ipstamp: misconfigured }, otherForwardingHeaderMessage(misconfigured));
    const result = await verifier.verify(input);
    if (!result.ok) {
      metrics.countRejected(result.reason);
      if (result.store === 'full') {
        metrics.countStoreFull();
        request.log.warn(
          { ipstamp: { reason: result.reason, store: 'full', kid: result.kid } },
          'ipstamp: replay store FULL: stamp refused (store-unavailable)',
        );
      } else {
        request.log.info({ ipstamp: { reason: result.reason, kid: result.kid, hints: result.hints } }, 'ipstamp: stamp rejected');
      }
      // awaiting the reply is Fastify's "return reply": later hooks and the handler are skipped
      await sendProblem(reply, result.reason);
      return;
    }
    const { verdict } = result;
    if (verdict === null) {
      metrics.countUnstamped();
      return;
    }
    metrics.countAccepted(verdict.agreement, verdict.replayChecked);
    if (!verdict.replayChecked) {
      request.log.warn(
        { ipstamp: { kid: verdict.kid, hints: verdict.hints } },
        "ipstamp: replay store failed; stamp ACCEPTED WITHOUT a replay check (onStoreError: 'accept')",
      );
    }
    request.ipStamp = verdict;
  }

  return {
    async preParsing(request, reply) {
      if (request.headers[STAMP_HEADER] !== undefined) return;
      const policy = routePolicy(request, requireStamp);
      if (policy !== 'skip' && policy.required) await verifyRequest(request, reply, true);
    },
    async preValidation(request, reply) {
      const policy = routePolicy(request, requireStamp);
      if (policy !== 'skip') await verifyRequest(request, reply, policy.required);
    },
  };
}
