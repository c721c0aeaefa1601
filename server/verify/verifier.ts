import { refusalError, withoutStackTrace } from '../../shared/errors.js';
import { type Reason, REASON_STATUS } from '../../shared/reasons.js';
import { MAX_STAMP_BYTES, STAMP_HEADER, TICKET_HEADER } from '../../shared/constants.js';
import type { StampAlg, StampClaims } from '../../shared/schema.js';
import { matchesStampClaims } from '../../shared/token-checks.js';
import type { VerifiedTicket } from './ticket-verifier.js';
import { isReplayStoreFullError, ReplayStoreFullError } from '../stores/replay-store.js';
import { bindingMatches } from './binding.js';
import { isCorsPreflight } from './cors-preflight.js';
import { claimsBreakRules, freshnessFailure, replayTtlMs } from './claim-rules.js';
import { compactHeaderValue } from '../jws/compact-codec.js';
import { createHeaderDecoder, readStamp, type StampParts } from './stamp-reader.js';
import { networkHints } from './network-hints.js';
import { compileOptions, verifierSettings, type CompiledOptions, type VerifierOptions, type VerifierSettings } from './options.js';
import { requestScheme, type RequestScheme } from './scheme.js';
import type { NetworkHints, Verdict, VerifyInput, VerifyResult } from './types.js';
import type { VerifierKey } from './key-source.js';
import type { VerifyPlatform } from './platform.js';

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** A result now, or a promise of it when some step had to wait. */
export type Outcome = VerifyResult | Promise<VerifyResult>;

/**
 * Hands a step's answer to the next step now, or when it settles: awaiting a value that is not
 * a promise would still cost a trip through the microtask queue. `next` takes its state as an
 * argument, so the synchronous case allocates no closure.
 */
function after<S, T>(value: T | PromiseLike<T>, state: S, next: (state: S, value: T) => Outcome): Outcome {
  return isPromiseLike(value) ? Promise.resolve(value).then((settled) => next(state, settled)) : next(state, value);
}

export interface Verifier {
  /** Runs PROTOCOL.md §5 (and §7.4 for tickets) in order. Never throws for bad input: the result says why. */
  verify(input: VerifyInput): Promise<VerifyResult>;
  /** The network's view of a request alone (PROTOCOL.md §4): what the echo route answers and rate limits key on. */
  hints(input: Pick<VerifyInput, 'headers' | 'hints'>): NetworkHints;
  /**
   * The scheme the client used, from trusted evidence only — the same answer step 9 builds the
   * Host-based origin from (scheme.ts): what a gateway forwards as X-Forwarded-Proto. Pass the
   * request's `hints` when you have them (a verdict carries them); else they are worked out.
   */
  scheme(input: Pick<VerifyInput, 'headers' | 'hints' | 'protocol'>, hints?: NetworkHints): RequestScheme;
  /** What this verifier runs with, every default filled in: frozen, read-only. */
  readonly settings: VerifierSettings;
}

/**
 * What this package's own glue reads of a verifier it made, kept off the object so no user of a
 * verifier can read or swap its key source, trust or store: the compiled options, and the
 * pipeline without its promise wrapper (`verifyNow`: a result when no step had to wait, else a
 * promise), with the `verify` that wraps it, to tell when something re-wrapped `verify` since.
 */
interface VerifierInternals {
  readonly opts: CompiledOptions;
  readonly verify: Verifier['verify'];
  readonly verifyNow: (input: VerifyInput) => Outcome;
}
const internals = new WeakMap<Verifier, VerifierInternals>();

function internalsOf(verifier: Verifier): VerifierInternals {
  const found = internals.get(verifier);
  if (found === undefined) throw new TypeError('verifier must come from createVerifier, createVerifierCore or createWebVerifier');
  return found;
}

/**
 * The compiled options of a verifier this package made: the Fastify plugin shares its replay
 * store with the ticket issuer and closes the one it made; the other-forwarding-header watch
 * needs the trust matcher. Not part of the public entry points.
 */
export function compiledOptionsOf(verifier: Verifier): CompiledOptions {
  return internalsOf(verifier).opts;
}

/**
 * The immediate form of `verifier.verify`, for the glue, which can then answer in the same hook
 * call (bench/README.md, "HTTP cost"; `verify` is exactly this, wrapped:
 * test/web/differential.property.test.ts) — unless `verify` was wrapped after creation (an
 * instrumentation, `createVerifier({ telemetry })`), whose wrapper must see every request.
 */
export function immediateVerifierOf(verifier: Verifier): (input: VerifyInput) => Outcome {
  const { verify, verifyNow } = internalsOf(verifier);
  return verifier.verify === verify ? verifyNow : (input) => verifier.verify(input);
}

/**
 * The pure core: plain data in, a verdict out. Store and keys come in through the options; the
 * cryptography, bytes and CIDR matcher through the platform (node:crypto or WebCrypto). On
 * Node: `createVerifierCore` (create-verifier.ts); on the web: `createWebVerifier`.
 */
export function createVerifierPipeline(options: VerifierOptions, platform: VerifyPlatform): Verifier {
  const opts = compileOptions(options, platform);
  const { codec, verifySignature } = platform.crypto;
  const decodeHeader = createHeaderDecoder(codec);

  const reject = (reason: Reason, hints: NetworkHints, kid?: string): VerifyResult => {
    const error = refusalError(reason);
    return kid === undefined
      ? { ok: false, reason, status: REASON_STATUS[reason], error, hints }
      : { ok: false, reason, status: REASON_STATUS[reason], error, hints, kid };
  };
  const storeFull = (hints: NetworkHints, kid: string): VerifyResult => ({
    ok: false,
    reason: 'store-unavailable',
    status: REASON_STATUS['store-unavailable'],
    error: withoutStackTrace(() => new ReplayStoreFullError()),
    hints,
    kid,
    store: 'full',
  });

  /**
   * One request's way through the pipeline: what the steps so far established. The steps are
   * plain functions of it, so a run that never has to wait (node:crypto, keys in memory, a
   * synchronous store) allocates no continuation and stays on the caller's stack.
   */
  interface Stamp {
    readonly input: VerifyInput;
    readonly hints: NetworkHints;
    readonly parts: StampParts;
    readonly alg: StampAlg;
    readonly kid: string;
    readonly nowMs: number;
    ticket: VerifiedTicket | undefined;
    key: VerifierKey | undefined;
    claims: StampClaims | undefined;
  }

  /** Steps 1–3, then on to the ticket or the key. */
  function verifyNow(input: VerifyInput): Outcome {
    const hints = networkHints(input, opts);

    // a CORS preflight carries no stamp by design and is never checked (every adapter alike)
    if (input.method === 'OPTIONS' && isCorsPreflight(input.method, input.headers)) return { ok: true, verdict: null, hints };

    // 1–2: present, once, bounded, three base64url segments
    const raw = input.headers[STAMP_HEADER];
    if (raw === undefined) {
      // own only: `required: false` inherited from a polluted Object.prototype must not waive the stamp
      return input.required === false && Object.hasOwn(input, 'required') ? { ok: true, verdict: null, hints } : reject('missing', hints);
    }
    // a single string goes straight to the split, whose alphabet has no comma: two instances
    // Node joined with ", " are refused there, as compactHeaderValue would
    const token = typeof raw === 'string' ? raw : compactHeaderValue(raw);
    if (token === undefined || token.length > MAX_STAMP_BYTES) return reject('malformed', hints);
    const parts = readStamp(token, decodeHeader, codec);
    if (typeof parts === 'string') return reject(parts, hints);

    // 3: JOSE header (read with the split: the header cache answers most stamps)
    const { alg, kid } = parts.header;
    const stamp: Stamp = { input, hints, parts, alg, kid, nowMs: opts.now(), ticket: undefined, key: undefined, claims: undefined };

    // §7.4: a ticket, when present, is checked before the key is looked up, and supplies it
    const rawTicket = input.headers[TICKET_HEADER];
    if (rawTicket !== undefined) {
      if (!opts.verifyTicket) return reject('bad-ticket', hints, kid);
      return after(opts.verifyTicket(rawTicket, stamp.nowMs), stamp, withTicket);
    }

    // 4: key by kid; a failing lookup is treated as an unknown key: fail closed
    let found: VerifierKey | undefined | PromiseLike<VerifierKey | undefined>;
    try {
      found = opts.keySource(kid);
    } catch {
      return reject('unknown-key', hints, kid);
    }
    return isPromiseLike(found)
      ? Promise.resolve(found).then(
          (key) => withKey(stamp, key),
          () => withKey(stamp, undefined),
        )
      : withKey(stamp, found);
  }

  function withTicket(stamp: Stamp, ticket: VerifiedTicket | undefined): Outcome {
    if (!ticket) return reject('bad-ticket', stamp.hints, stamp.kid);
    if (stamp.kid !== ticket.thumbprint) return reject('unknown-key', stamp.hints, stamp.kid);
    stamp.ticket = ticket;
    const { alg, parts } = stamp;
    return after(ticket.clientAlgs.includes(alg) && verifySignature(alg, ticket.clientKey, parts.signingInput, parts.signature), stamp, withSignature);
  }

  /** 5: alg pinned to the key, signature (node:crypto answers a boolean, WebCrypto a promise). */
  function withKey(stamp: Stamp, key: VerifierKey | undefined): Outcome {
    if (!key) return reject('unknown-key', stamp.hints, stamp.kid);
    stamp.key = key;
    const { alg, parts } = stamp;
    return after(key.alg === alg && verifySignature(alg, key.keyObject, parts.signingInput, parts.signature), stamp, withSignature);
  }

  /** 6–9: claims, freshness, then the binding to this request. */
  function withSignature(stamp: Stamp, signatureOk: boolean): Outcome {
    const { hints, kid, ticket } = stamp;
    if (!signatureOk) return reject('bad-signature', hints, kid);

    // 6: claims
    const claimsJson = codec.parseJsonBytes(stamp.parts.payload);
    // the schema's compiled twin (shared/token-checks.ts), proven equal to it: no zod per request
    const claims = claimsJson && matchesStampClaims(claimsJson) ? (claimsJson as StampClaims) : undefined;
    if (!claims) return reject('bad-claims', hints, kid);
    if (claimsBreakRules(claims, opts.maxAge, ticket !== undefined)) return reject('bad-claims', hints, kid);
    stamp.claims = claims;

    // 7–8: freshness
    const stale = freshnessFailure(claims, stamp.nowMs, opts);
    if (stale) return reject(stale, hints, kid);

    // 9: binding to this request (and, with a ticket, to the ticket and its address)
    return after(bindingMatches(claims, stamp.input, opts, hints), stamp, withBinding);
  }

  /** 10: single use, keyed by (kid, jti) — with a ticket the kid is the key's thumbprint. */
  function withBinding(stamp: Stamp, bound: boolean): Outcome {
    const { hints, kid, ticket } = stamp;
    const claims = stamp.claims!;
    if (!bound) return reject('binding-mismatch', hints, kid);
    if (ticket && (claims.ip !== ticket.ip || claims.tth !== ticket.tth)) return reject('binding-mismatch', hints, kid);
    let inserted: boolean | PromiseLike<boolean>;
    try {
      inserted = opts.replayStore.insertIfAbsent(`${kid} ${claims.jti}`, replayTtlMs(claims.iat, stamp.nowMs, opts));
    } catch (error) {
      return storeFailed(stamp, error);
    }
    if (typeof inserted === 'boolean') return inserted ? decide(stamp, true) : reject('replay', hints, kid);
    return Promise.resolve(inserted).then(
      (fresh) => (fresh ? decide(stamp, true) : reject('replay', hints, kid)),
      (error: unknown) => storeFailed(stamp, error),
    );
  }

  function storeFailed(stamp: Stamp, error: unknown): Outcome {
    // a full store fails closed whatever onStoreError says: that policy covers outages, and
    // capacity is something an attacker can exhaust (PROTOCOL §5, the store row)
    if (isReplayStoreFullError(error)) return storeFull(stamp.hints, stamp.kid);
    if (opts.onStoreError !== 'accept') return reject('store-unavailable', stamp.hints, stamp.kid);
    return decide(stamp, false);
  }

  /** 11–12 and the verdict. */
  function decide(stamp: Stamp, replayChecked: boolean): VerifyResult {
    const { hints, kid, key, ticket, alg } = stamp;
    const claims = stamp.claims!;

    // 11: the key's allowed addresses (a ticket's key has none: the issuer vouched for the address)
    if (key?.allowedIps && !key.allowedIps.contains(claims.ip)) return reject('ip-not-allowed', hints, kid);

    // 12′ first for an unknown peer (PROTOCOL §4): no l3 is no evidence at all — not "every hop
    // trusted" — so neither the policy nor a ticket can turn it into an acceptance
    if (hints.l3 === undefined) return reject('ip-unverifiable', hints, kid);

    // 12: agreement with the network. With a ticket the issuer observed the address at the edge,
    // so a verifier that cannot see it itself (behind trusted hops) still accepts.
    let agreement: Verdict['agreement'];
    if (hints.observed === undefined) {
      if (opts.onUnverifiable === 'reject' && !ticket) return reject('ip-unverifiable', hints, kid);
      agreement = 'unverifiable';
    } else if (hints.observed === claims.ip) {
      agreement = 'match';
    } else {
      if (opts.onMismatch === 'reject') return reject('ip-mismatch', hints, kid);
      agreement = 'mismatch';
    }

    const verdict: Verdict = {
      ip: claims.ip,
      agreement,
      kid,
      alg,
      jti: claims.jti,
      iat: claims.iat,
      source: ticket ? 'ticket' : 'stamp',
      replayChecked,
      hints,
    };
    if (ticket) verdict.issuer = ticket.iss;
    if (claims.exp !== undefined) verdict.exp = claims.exp;
    if (claims.obs !== undefined) verdict.obs = claims.obs;
    return { ok: true, verdict, hints };
  }

  function verify(input: VerifyInput): Promise<VerifyResult> {
    try {
      return Promise.resolve(verifyNow(input));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  const verifier: Verifier = {
    verify,
    hints: (input) => networkHints(input, opts),
    scheme: (input, hints = networkHints(input, opts)) => requestScheme(input, hints, opts),
    settings: verifierSettings(opts, options.issuers),
  };
  internals.set(verifier, { opts, verify, verifyNow });
  return verifier;
}
