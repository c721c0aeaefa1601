import { MemoryReplayStore } from '../../server/stores/memory.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import type { ConformanceAdapter, ConformanceRun } from './vector-format.js';
import { outcomeOf, replayStoreFor, verifierOptionsOf, verifyInputOf } from './vector-run.js';

/** ipstamp's pure core (`createVerifierCore`), fed each vector as plain data (vector-run.ts: options, store, input, outcome). */
export const ipstampCoreAdapter: ConformanceAdapter = {
  name: 'ipstamp verifier core',
  async run(vector, keys) {
    const nowMs = vector.now * 1000;
    const remembered: ConformanceRun['remembered'] = [];
    const verifier = createVerifierCore(verifierOptionsOf(vector, keys, nowMs, remembered, MemoryReplayStore));
    return { outcome: outcomeOf(await verifier.verify(verifyInputOf(vector))), remembered };
  },

  async issue(vector) {
    const nowMs = vector.now * 1000;
    const remembered: ConformanceRun['remembered'] = [];
    const { options } = vector;
    const issuer = vector.issuer!;
    const ticketIssuer = createTicketIssuer({
      key: issuer.key,
      ...(issuer.iss === undefined ? {} : { origin: issuer.iss }),
      lifetime: issuer.lifetime,
      maxAge: options.maxAge,
      skew: options.skew,
      now: () => nowMs,
      trustedProxies: options.trustedProxies,
      forwardedHeader: options.forwardedHeader,
      ...(options.origins ? { origins: options.origins } : {}),
      replayStore: replayStoreFor(vector, nowMs, remembered, MemoryReplayStore),
    });
    const result = await ticketIssuer.issue(verifyInputOf(vector));
    return {
      outcome: result.ok ? { ok: true, ticket: result.ticket, ip: result.ip, exp: result.exp } : { ok: false, reason: result.reason, status: result.status },
      remembered,
    };
  },
};
