import { MemoryReplayStore } from '../../server/stores/memory.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import type { ConformanceAdapter, ConformanceRun, ConformanceVector } from './vector-format.js';

/** Large enough that no vector fills it unless it says `capacity`. */
const AMPLE_CAPACITY = 1024;
/** Pre-filled pairs stay live well past every vector's `now`. */
const SEEN_TTL_MS = 3_600_000;

/** The store the vector describes, recording what the verifier asks it to remember. */
export function replayStoreFor(vector: ConformanceVector, nowMs: number, remembered: ConformanceRun['remembered']): ReplayStore {
  const { replay } = vector;
  if (!replay.available) {
    return {
      insertIfAbsent() {
        throw new Error('connect ECONNREFUSED (the vector says the store is unreachable)');
      },
    };
  }
  const memory = new MemoryReplayStore({ maxEntries: replay.capacity ?? AMPLE_CAPACITY, now: () => nowMs });
  for (const { kid, jti } of replay.seen) memory.insertIfAbsent(`${kid} ${jti}`, SEEN_TTL_MS);
  return {
    insertIfAbsent(key, ttlMs) {
      const space = key.indexOf(' ');
      remembered.push({ kid: key.slice(0, space), jti: key.slice(space + 1), untilMs: nowMs + ttlMs });
      return memory.insertIfAbsent(key, ttlMs);
    },
  };
}

/** The verifier options a vector describes (the same for every platform's verifier). */
export function verifierOptionsOf(
  vector: ConformanceVector,
  keys: { keys: Record<string, unknown>[] },
  nowMs: number,
  remembered: ConformanceRun['remembered'],
): VerifierOptions {
  const { options } = vector;
  const verifierOptions: VerifierOptions = {
    keys,
    maxAge: options.maxAge,
    skew: options.skew,
    now: () => nowMs,
    replayStore: replayStoreFor(vector, nowMs, remembered),
    onStoreError: options.onStoreError,
    trustedProxies: options.trustedProxies,
    forwardedHeader: options.forwardedHeader,
    protoHeader: options.protocolHeader,
    onMismatch: options.onMismatch,
    onUnverifiable: options.onUnverifiable,
    requireBodyDigest: options.requireBodyDigest,
  };
  if (options.origins) verifierOptions.origins = options.origins;
  if (options.issuers) verifierOptions.issuers = options.issuers;
  return verifierOptions;
}

/** A result in the vocabulary of the spec. */
export function outcomeOf(result: VerifyResult): ConformanceRun['outcome'] {
  if (!result.ok) return { ok: false, reason: result.reason, status: result.status };
  if (result.verdict === null) return { ok: true, verdict: null };
  const v = result.verdict;
  return {
    ok: true,
    verdict: {
      source: v.source,
      ip: v.ip,
      agreement: v.agreement,
      kid: v.kid,
      jti: v.jti,
      iat: v.iat,
      issuer: v.issuer,
      observed: v.hints.observed,
      l4: v.hints.l4,
      replayChecked: v.replayChecked,
    },
  };
}

/** ipstamp's pure core (`createVerifierCore`), fed each vector as plain data. */
export const ipstampCoreAdapter: ConformanceAdapter = {
  name: 'ipstamp verifier core',
  async run(vector, keys) {
    const nowMs = vector.now * 1000;
    const remembered: ConformanceRun['remembered'] = [];
    const verifier = createVerifierCore(verifierOptionsOf(vector, keys, nowMs, remembered));
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
      replayStore: replayStoreFor(vector, nowMs, remembered),
    });
    const result = await ticketIssuer.issue(verifyInputOf(vector));
    return {
      outcome: result.ok ? { ok: true, ticket: result.ticket, ip: result.ip, exp: result.exp } : { ok: false, reason: result.reason, status: result.status },
      remembered,
    };
  },
};

/** The request and connection of a vector as the core's plain input. */
export function verifyInputOf(vector: ConformanceVector): VerifyInput {
  const { request, connection } = vector;
  const body =
    request.body === undefined
      ? new Uint8Array(0)
      : 'text' in request.body
        ? new TextEncoder().encode(request.body.text)
        : Buffer.from(request.body.base64, 'base64');
  return {
    method: request.method,
    url: request.target,
    headers: request.headers,
    body,
    protocol: connection.tls ? 'https' : 'http',
    hints: {
      // null passes through as a runtime would hand it over
      l3: connection.l3 as string | undefined,
      l4: connection.l4,
      tls: connection.tls,
      // the PROXY v2 SSL TLV, for the scheme evidence of docs/protocol.md §5.1 (rule 2): its client bit 0x01
      proxyTls: connection.proxySsl === undefined ? undefined : (connection.proxySsl.client & 0x01) === 0x01,
    },
    required: request.required,
  };
}
