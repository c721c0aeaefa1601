/**
 * Feeding a conformance vector to ipstamp's verifiers, runtime-neutral: no `node:` module, no
 * Buffer and no value import of the implementation — the verifier and store come in as
 * arguments. Node's adapters (ipstamp-adapter.ts, web-adapter.ts) call these with the sources;
 * the runtime fixture (test/runtimes/fixtures/conformance-app.ts) with the built `ipstamp/web`
 * inside Bun, Deno and workerd, so every platform is fed each vector the same way.
 */
import type { ReplayStore } from '../../server/stores/replay-store.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import type { WebVerifier, WebVerifierOptions } from '../../server/web/web-verifier.js';
import type { ConformanceRun, ConformanceVector, VectorHeaderValue } from './vector-format.js';

/** Large enough that no vector fills it unless it says `capacity`. */
const AMPLE_CAPACITY = 1024;
/** Pre-filled pairs stay live well past every vector's `now`. */
const SEEN_TTL_MS = 3_600_000;

/** The in-memory store of the implementation under test (`MemoryReplayStore`), as a constructor. */
export type MemoryStoreClass = new (options: { maxEntries: number; now: () => number }) => {
  insertIfAbsent(key: string, ttlMs: number): boolean | Promise<boolean>;
};

/** What the web path needs of the implementation: the source tree's or the built `ipstamp/web`'s. */
export interface WebImplementation {
  createWebVerifier(options: WebVerifierOptions): WebVerifier;
  MemoryReplayStore: MemoryStoreClass;
}

/** The store the vector describes, recording what the verifier asks it to remember. */
export function replayStoreFor(vector: ConformanceVector, nowMs: number, remembered: ConformanceRun['remembered'], Memory: MemoryStoreClass): ReplayStore {
  const { replay } = vector;
  if (!replay.available) {
    return {
      insertIfAbsent() {
        throw new Error('connect ECONNREFUSED (the vector says the store is unreachable)');
      },
    };
  }
  const memory = new Memory({ maxEntries: replay.capacity ?? AMPLE_CAPACITY, now: () => nowMs });
  for (const { kid, jti } of replay.seen) void memory.insertIfAbsent(`${kid} ${jti}`, SEEN_TTL_MS);
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
  Memory: MemoryStoreClass,
): VerifierOptions {
  const { options } = vector;
  const verifierOptions: VerifierOptions = {
    keys,
    maxAge: options.maxAge,
    skew: options.skew,
    now: () => nowMs,
    replayStore: replayStoreFor(vector, nowMs, remembered, Memory),
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

function bodyBytesOf(body: NonNullable<ConformanceVector['request']['body']>): Uint8Array {
  return 'text' in body ? new TextEncoder().encode(body.text) : Uint8Array.from(atob(body.base64), (c) => c.charCodeAt(0));
}

/** The request and connection of a vector as the core's plain input. */
export function verifyInputOf(vector: ConformanceVector): VerifyInput {
  const { request, connection } = vector;
  return {
    method: request.method,
    url: request.target,
    headers: request.headers,
    body: request.body === undefined ? new Uint8Array(0) : bodyBytesOf(request.body),
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

const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * The vector's request as a runtime would hand it over, or undefined when a `Request` cannot
 * say it exactly: a header sent more than once (a `Headers` joins the instances, where Node
 * keeps them apart), a method `Request` refuses, a request-target that is not a path, a value
 * the runtime's `Headers` refuses.
 */
export function requestOf(vector: ConformanceVector): Request | undefined {
  const { request, connection } = vector;
  const entries = Object.entries(request.headers) as [string, VectorHeaderValue][];
  if (entries.some(([, value]) => Array.isArray(value))) return undefined;
  if (!request.target.startsWith('/') || !/^[A-Z]+$/.test(request.method) || REFUSED_METHODS.has(request.method)) return undefined;
  const host = request.headers.host;
  if (typeof host !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(`${connection.tls ? 'https' : 'http'}://${host}${request.target}`);
  } catch {
    return undefined;
  }
  // the URL must give back the very target the client sent (no normalisation by the parser)
  if (`${url.pathname}${url.search}` !== request.target) return undefined;
  const body = request.body === undefined ? undefined : bodyBytesOf(request.body);
  if (body !== undefined && (request.method === 'GET' || request.method === 'HEAD')) return undefined;
  const headers = new Headers();
  try {
    for (const [name, value] of entries) headers.set(name, value as string);
  } catch {
    return undefined; // a value Headers refuses (a control character)
  }
  if (headers.get('host') !== host) return undefined;
  // a body arrives with its length, which the web verifier reads it by (the Hono adapter's rule)
  if (body !== undefined && !headers.has('content-length')) headers.set('content-length', String(body.length));
  try {
    return new Request(url, { method: request.method, headers, ...(body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> }) });
  } catch {
    return undefined; // a method or header this runtime's Request refuses
  }
}

/**
 * One vector through `createWebVerifier`: as a web `Request` and the connection a runtime
 * reports (the way a Worker calls it) when a Request can carry it faithfully, else through
 * `verifyInput` as plain data. `counts` tallies which path each vector took.
 */
export async function runWebVector(
  impl: WebImplementation,
  vector: ConformanceVector,
  keys: { keys: Record<string, unknown>[] },
  counts: { request: number; plain: number },
): Promise<ConformanceRun> {
  const nowMs = vector.now * 1000;
  const remembered: ConformanceRun['remembered'] = [];
  const verifier = impl.createWebVerifier(verifierOptionsOf(vector, keys, nowMs, remembered, impl.MemoryReplayStore));
  const input = verifyInputOf(vector);
  const request = requestOf(vector);
  if (request === undefined) {
    counts.plain++;
    return { outcome: outcomeOf(await verifier.verifyInput(input)), remembered };
  }
  counts.request++;
  const { hints } = input;
  const result = await verifier.verify(request, { ...hints, l3: hints.l3 }, { required: vector.request.required });
  return { outcome: outcomeOf(result), remembered };
}

/** What a runtime reports for one vector: its run, or the error that stopped it (a key refused at load). */
export type VectorAnswer = { id: string; run: ConformanceRun } | { id: string; error: string };

/** Runs `vector` and never throws: a verifier that refuses its keys at load answers `{ error }`. */
export async function answerOf(id: string, run: () => Promise<ConformanceRun>): Promise<VectorAnswer> {
  try {
    return { id, run: await run() };
  } catch (error) {
    return { id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
