import { IpStampError } from '../../shared/errors.js';
import { type Reason, REASON_STATUS } from '../../shared/reasons.js';
import { MAX_STAMP_BYTES, STAMP_HEADER, TICKET_HEADER } from '../../shared/constants.js';
import type { StampClaims } from '../../shared/schema.js';
import { matchesStampClaims } from '../../shared/token-checks.js';
import type { VerifiedTicket } from './ticket-verifier.js';
import { isReplayStoreFullError, ReplayStoreFullError } from '../stores/replay-store.js';
import { bindingMatches } from './binding.js';
import { isCorsPreflight } from './cors-preflight.js';
import { claimsBreakRules, freshnessFailure, replayTtlMs } from './claim-rules.js';
import { compactHeaderValue } from '../jws/compact-codec.js';
import { createHeaderDecoder, readStamp } from './stamp-reader.js';
import { networkHints } from './network-hints.js';
import { compileOptions, verifierSettings, type CompiledOptions, type VerifierOptions, type VerifierSettings } from './options.js';
import { requestScheme, type RequestScheme } from './scheme.js';
import type { NetworkHints, Verdict, VerifyInput, VerifyResult } from './types.js';
import type { VerifierKey } from './key-source.js';
import type { VerifyPlatform } from './platform.js';

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
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

// The compiled options behind each verifier, for this package's own glue (compiledOptionsOf);
// kept off the object so no user of a verifier can read or swap its key source, trust or store.
const compiledOptions = new WeakMap<Verifier, CompiledOptions>();

/**
 * The compiled options of a verifier this package made: the Fastify plugin shares its replay
 * store with the ticket issuer and closes the one it made; the other-forwarding-header watch
 * needs the trust matcher. Not part of the public entry points.
 */
export function compiledOptionsOf(verifier: Verifier): CompiledOptions {
  const opts = compiledOptions.get(verifier);
  if (opts === undefined) throw new TypeError('verifier must come from createVerifier, createVerifierCore or createWebVerifier');
  return opts;
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
    const error = new IpStampError(reason);
    return kid === undefined
      ? { ok: false, reason, status: REASON_STATUS[reason], error, hints }
      : { ok: false, reason, status: REASON_STATUS[reason], error, hints, kid };
  };
  const storeFull = (hints: NetworkHints, kid: string): VerifyResult => ({
    ok: false,
    reason: 'store-unavailable',
    status: REASON_STATUS['store-unavailable'],
    error: new ReplayStoreFullError(),
    hints,
    kid,
    store: 'full',
  });

  async function verify(input: VerifyInput): Promise<VerifyResult> {
    const hints = networkHints(input, opts);

    // a CORS preflight carries no stamp by design and is never checked (every adapter alike)
    if (input.method === 'OPTIONS' && isCorsPreflight(input.method, input.headers)) return { ok: true, verdict: null, hints };

    // 1–2: present, once, bounded, three base64url segments
    const raw = input.headers[STAMP_HEADER];
    if (raw === undefined) {
      return input.required === false ? { ok: true, verdict: null, hints } : reject('missing', hints);
    }
    // a single string goes straight to the split, whose alphabet has no comma: two instances
    // Node joined with ", " are refused there, as compactHeaderValue would
    const token = typeof raw === 'string' ? raw : compactHeaderValue(raw);
    if (token === undefined || token.length > MAX_STAMP_BYTES) return reject('malformed', hints);
    const parts = readStamp(token, decodeHeader, codec);
    if (typeof parts === 'string') return reject(parts, hints);

    // 3: JOSE header (read with the split: the header cache answers most stamps)
    const { header } = parts;
    const { alg, kid } = header;
    const nowMs = opts.now();

    // §7.4: a ticket, when present, is checked before the key is looked up, and supplies it
    let ticket: VerifiedTicket | undefined;
    const rawTicket = input.headers[TICKET_HEADER];
    if (rawTicket !== undefined) {
      ticket = opts.verifyTicket ? await opts.verifyTicket(rawTicket, nowMs) : undefined;
      if (!ticket) return reject('bad-ticket', hints, kid);
    }

    // 4–5: key by kid, alg pinned to the key, signature
    let key: VerifierKey | undefined;
    if (ticket) {
      if (kid !== ticket.thumbprint) return reject('unknown-key', hints, kid);
    } else {
      try {
        // awaiting a value that is not a promise still costs a trip through the microtask queue
        const found = opts.keySource(kid);
        key = isPromiseLike(found) ? await found : found;
      } catch {
        key = undefined; // a failing key lookup is treated as an unknown key: fail closed
      }
      if (!key) return reject('unknown-key', hints, kid);
    }
    const checked = ticket
      ? ticket.clientAlgs.includes(alg) && verifySignature(alg, ticket.clientKey, parts.signingInput, parts.signature)
      : key!.alg === alg && verifySignature(alg, key!.keyObject, parts.signingInput, parts.signature);
    // Node answers a boolean; WebCrypto a promise
    const signatureOk = typeof checked === 'boolean' ? checked : await checked;
    if (!signatureOk) return reject('bad-signature', hints, kid);

    // 6: claims
    const claimsJson = codec.parseJsonBytes(parts.payload);
    // the schema's compiled twin (shared/token-checks.ts), proven equal to it: no zod per request
    const claims = claimsJson && matchesStampClaims(claimsJson) ? (claimsJson as StampClaims) : undefined;
    if (!claims) return reject('bad-claims', hints, kid);
    if (claimsBreakRules(claims, opts.maxAge, ticket !== undefined)) return reject('bad-claims', hints, kid);

    // 7–8: freshness
    const stale = freshnessFailure(claims, nowMs, opts);
    if (stale) return reject(stale, hints, kid);

    // 9: binding to this request (and, with a ticket, to the ticket and its address)
    const bound = bindingMatches(claims, input, opts, hints);
    if (!(typeof bound === 'boolean' ? bound : await bound)) return reject('binding-mismatch', hints, kid);
    if (ticket && (claims.ip !== ticket.ip || claims.tth !== ticket.tth)) return reject('binding-mismatch', hints, kid);

    // 10: single use, keyed by (kid, jti) — with a ticket the kid is the key's thumbprint
    let replayChecked = true;
    try {
      const inserted = opts.replayStore.insertIfAbsent(`${kid} ${claims.jti}`, replayTtlMs(claims.iat, nowMs, opts));
      const fresh = typeof inserted === 'boolean' ? inserted : await inserted;
      if (!fresh) return reject('replay', hints, kid);
    } catch (error) {
      // a full store fails closed whatever onStoreError says: that policy covers outages, and
      // capacity is something an attacker can exhaust (PROTOCOL §5, the store row)
      if (isReplayStoreFullError(error)) return storeFull(hints, kid);
      if (opts.onStoreError !== 'accept') return reject('store-unavailable', hints, kid);
      replayChecked = false;
    }

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

  const verifier: Verifier = {
    verify,
    hints: (input) => networkHints(input, opts),
    scheme: (input, hints = networkHints(input, opts)) => requestScheme(input, hints, opts),
    settings: verifierSettings(opts, options.issuers),
  };
  compiledOptions.set(verifier, opts);
  return verifier;
}
