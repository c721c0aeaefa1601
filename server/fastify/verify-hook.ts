import type { FastifyReply, FastifyRequest, preParsingHookHandler, preValidationHookHandler } from 'fastify';
import { STAMP_HEADER } from '../../shared/constants.js';
import { otherForwardingHeaderMessage, watchOtherForwardingHeader } from '../hints/other-forwarding-header.js';
import { compiledOptionsOf, immediateVerifierOf, type Verifier } from '../verify/verifier.js';
import type { VerifyInput, VerifyResult } from '../verify/types.js';
import { connectionHints } from '../verify/connection-hints.js';
import { headersOf } from '../verify/node-headers.js';
import type { IpStampMetrics } from './metrics.js';
import { sendProblem } from './problem.js';
import { rawBodyOf, teeStampedBody } from './raw-body.js';
import { routePolicy, type RoutePolicy } from './route-config.js';

/** The plain data the verifier decides from (ARCHITECTURE.md: the core never sees the request). */
export function verifyInputOf(request: FastifyRequest, required: boolean): VerifyInput {
  return {
    method: request.method,
    // as received, before any rewriteUrl: htu was signed over what the client sent
    url: request.originalUrl,
    headers: headersOf(request.raw),
    body: rawBodyOf(request),
    // no `protocol: request.protocol`: under Fastify's trustProxy it is any client's
    // X-Forwarded-Proto; the scheme comes from the socket (hints.tls) and trusted peers only
    hints: connectionHints(request.socket),
    required,
  };
}

export interface VerifyHookSettings {
  readonly verifier: Verifier;
  readonly metrics: IpStampMetrics;
  readonly requireStamp: boolean;
  /** The plugin's `reportOnly`: a refusal is let through with its reason, unless the route says otherwise. */
  readonly reportOnly: boolean;
}

export interface VerifyHooks {
  /**
   * Turns away a required route's stampless request before its body is read, and otherwise
   * hands a stamp that declares `cdg` the body tee (raw-body.ts). In preParsing, not
   * onRequest: every onRequest hook (@fastify/cors's, registered before or after this plugin)
   * has run by then, so the refusal carries their headers and a page can read it.
   */
  readonly preParsing: preParsingHookHandler;
  /** Verifies after the body is parsed (so its bytes are known), before the handler. */
  readonly preValidation: preValidationHookHandler;
}

/**
 * Accepted → `request.ipStamp`; rejected → problem+json, logged once at info with the reason,
 * kid and hints; rejected on a report-only route → counted and logged the same, and the request
 * goes on as an unstamped one with the reason in `request.ipStampRefusal`. The token itself is
 * never logged.
 *
 * Callback hooks, not async ones (bench/README.md, "HTTP cost"): an async hook costs Fastify a
 * promise and a trip through its hook runner per request even when it has nothing to wait
 * for, and the one preParsing hook does what two did. What each request sees is unchanged:
 * the same checks in the same hooks, the refusal sent from the hook that decided it and the
 * later hooks and handler skipped (test/plugin/callback-hooks.test.ts).
 */
export function createVerifyHooks({ verifier, metrics, requireStamp, reportOnly }: VerifyHookSettings): VerifyHooks {
  const otherForwardingHeader = watchOtherForwardingHeader(compiledOptionsOf(verifier));
  const verifyNow = immediateVerifierOf(verifier);

  /** What the result means for this request; false when the refusal has been sent. */
  function settle(request: FastifyRequest, reply: FastifyReply, result: VerifyResult, policy: VerifyPolicy): boolean {
    if (!result.ok) {
      metrics.countRejected(result.reason);
      // said in the log line too: a report-only refusal was counted, and the request served
      const reported = policy.reportOnly ? true : undefined;
      if (result.store === 'full') {
        metrics.countStoreFull();
        request.log.warn(
          { ipstamp: { reason: result.reason, store: 'full', kid: result.kid, reportOnly: reported } },
          'ipstamp: replay store FULL: stamp refused (store-unavailable)',
        );
      } else {
        request.log.info({ ipstamp: { reason: result.reason, kid: result.kid, hints: result.hints, reportOnly: reported } }, 'ipstamp: stamp rejected');
      }
      if (policy.reportOnly) {
        // what an unstamped request on an optional route gets (ipStamp stays null), plus the reason
        request.ipStampRefusal = result.reason;
        return true;
      }
      // a callback hook that sends and never calls done: later hooks and the handler are skipped
      sendProblem(reply, result.reason);
      return false;
    }
    const { verdict } = result;
    if (verdict === null) {
      metrics.countUnstamped();
      return true;
    }
    metrics.countAccepted(verdict.agreement, verdict.replayChecked);
    if (!verdict.replayChecked) {
      request.log.warn(
        { ipstamp: { kid: verdict.kid, hints: verdict.hints } },
        "ipstamp: replay store failed; stamp ACCEPTED WITHOUT a replay check (onStoreError: 'accept')",
      );
    }
    request.ipStamp = verdict;
    return true;
  }

  /** Verifies, then calls `proceed()` when the request goes on, `fail(error)` when something threw. */
  function verifyRequest(request: FastifyRequest, reply: FastifyReply, policy: VerifyPolicy, proceed: () => void, fail: (error: Error) => void): void {
    const input = verifyInputOf(request, policy.required);
    const misconfigured = otherForwardingHeader(input);
    if (misconfigured) request.log.warn({ ipstamp: misconfigured }, otherForwardingHeaderMessage(misconfigured));
    let outcome: VerifyResult | Promise<VerifyResult>;
    try {
      outcome = verifyNow(input);
    } catch (error) {
      fail(error as Error);
      return;
    }
    // with keys in memory, node:crypto and a synchronous store the answer is here already:
    // the hook then finishes in this call, with no promise and no trip through the microtask queue
    if (outcome instanceof Promise) outcome.then((result) => conclude(request, reply, result, policy, proceed, fail), fail);
    else conclude(request, reply, outcome, policy, proceed, fail);
  }

  function conclude(
    request: FastifyRequest,
    reply: FastifyReply,
    result: VerifyResult,
    policy: VerifyPolicy,
    proceed: () => void,
    fail: (error: Error) => void,
  ): void {
    let goOn: boolean;
    try {
      goOn = settle(request, reply, result, policy);
    } catch (error) {
      fail(error as Error);
      return;
    }
    if (goOn) proceed();
  }

  return {
    preParsing(request, reply, payload, done) {
      const policy = routePolicy(request, requireStamp, reportOnly);
      // read once: each read of request.routeOptions builds a new object
      (request as PolicyCarrier)[ROUTE_POLICY] = policy;
      if (policy === 'skip') return done(null, payload);
      if (request.headers[STAMP_HEADER] === undefined) {
        // report-only: nothing to refuse early, so preValidation alone verifies (and counts) it
        if (!policy.required || policy.reportOnly) return done(null, payload);
        return verifyRequest(request, reply, policy, () => done(null, payload), done);
      }
      done(null, teeStampedBody(request, payload));
    },
    preValidation(request, reply, done) {
      const policy = (request as PolicyCarrier)[ROUTE_POLICY] ?? routePolicy(request, requireStamp, reportOnly);
      if (policy === 'skip') return done();
      verifyRequest(request, reply, policy, done, done);
    },
  };
}

/** Where preParsing leaves the route's policy for preValidation (module-private). */
const ROUTE_POLICY = Symbol('ipstamp.routePolicy');
type PolicyCarrier = FastifyRequest & { [ROUTE_POLICY]?: RoutePolicy };
/** A policy that verifies. */
type VerifyPolicy = Exclude<RoutePolicy, 'skip'>;
