import type { Reason } from '../../shared/reasons.js';
import type { StampAlg, StampClaims } from '../../shared/schema.js';
import type { TicketTools } from './ticket-tools.js';
import type { TokenTamper } from './token-tamper.js';

/** A wire reason (PROTOCOL.md §5), or `closed`: the target must drop the connection unanswered. */
export type ExpectedReason = Reason | 'closed';

/** What a safe verifier must do with an attack's request(s). */
export type Expectation = { readonly accept: true } | { readonly reject: true; readonly reason?: ExpectedReason };

/** An HTTP request to the target, sent with undici on a fresh connection. */
export interface HttpAttackRequest {
  readonly kind: 'http';
  readonly method: string;
  /** Absolute URL; defaults to the target in `ctx.http`. */
  readonly url: string;
  /** An array value sends the header once per element, in order. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
  /** A legitimate use that must be accepted before the attack proper (e.g. the original of a replay). */
  readonly setup?: boolean;
  /** Connect from this local address instead of the run's own (a proxy address the target trusts). */
  readonly localAddress?: string;
}

/** The two ends of the harness's own TCP connection, for bytes that name them (PROXY headers). */
export interface RawConnection {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/** Bytes written on a fresh TCP connection to the target; the answer is read until the peer closes. */
export interface RawAttackRequest {
  readonly kind: 'raw';
  /** Written first, in the clear (a PROXY header comes before TLS). */
  readonly bytes: Uint8Array | ((connection: RawConnection) => Uint8Array);
  /** Written next: inside TLS when the target is https. */
  readonly http?: Uint8Array | ((connection: RawConnection) => Uint8Array);
  readonly setup?: boolean;
}

export type AttackRequest = HttpAttackRequest | RawAttackRequest;

/**
 * What `build` returns. One request, or a sequence sent in order (its `setup` members must be
 * accepted, the rest are judged); `race`: copies sent at once, of which exactly one must be
 * accepted — it plays the control — and every other is judged; `skip`: not applicable to this key.
 */
export type AttackPlan =
  | AttackRequest
  | readonly AttackRequest[]
  | { readonly race: readonly AttackRequest[] }
  | { readonly skip: string };

/** Without `method` a stamp or request is the route's own: its method, and its body (and `cdg`) when it has one. */
export interface StampOptions {
  readonly method?: string;
  /** Absolute URL the stamp is bound to (`htu`); default the target. */
  readonly url?: string;
  readonly body?: string | Uint8Array;
  /** Claims set after the stamper's own (an `ip` here overrides the observed address). */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface HttpOptions {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
  readonly setup?: boolean;
}

/** Key material an attacker can get hold of (public), for algorithm-confusion secrets. */
export interface PublicKeyForms {
  /** The public JWK as a JWK Set publishes it, JSON-encoded. */
  readonly jwkJson: string;
  /** SPKI PEM text. */
  readonly pem: string;
  /** The raw public key: the uncompressed EC point, or the 32 Ed25519 bytes. */
  readonly raw: Uint8Array;
}

export interface SignOptions {
  /** Sign as this alg instead of the key's (`none` gives an empty signature). */
  readonly signAs?: string;
  /** HMAC with this secret instead of the client key. */
  readonly secret?: Uint8Array | string;
  /** Sign with the throwaway attacker key instead of the client key. */
  readonly attackerKey?: boolean;
}

/** Everything an attack's `build` may use. Each call makes fresh claims (new jti, current iat). */
export interface AttackContext {
  /** The URL under attack. */
  readonly target: URL;
  /** The method of the route under attack: every request uses it unless an attack says otherwise. GET unless told. */
  readonly method: string;
  /** The JSON body every request carries when `method` carries one (POST, PUT, PATCH); stamps then digest it (`cdg`). */
  readonly body: string | undefined;
  /**
   * The method for attacks that need a body (a digest control, an altered body): `method` when
   * it carries one, POST when the run fixed no method; undefined for a fixed bodiless method.
   */
  readonly bodyMethod: string | undefined;
  /** The address the target observes for the harness. */
  readonly ip: string;
  /** An address of the same family that is not the harness's (documentation range). */
  readonly spoofedIp: string;
  readonly kid: string;
  readonly alg: StampAlg;
  /** Copies sent by race attacks. */
  readonly raceCopies: number;
  /** Whole seconds since the epoch. */
  now(): number;
  /** Fresh legitimate claims for a request (what the stamper would sign). */
  claims(options?: StampOptions): StampClaims & Record<string, unknown>;
  /** The JOSE header the client key signs with, plus `extra` members. */
  header(extra?: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** Signs any header and payload; a string is used as the exact JSON text, so duplicate members survive. */
  sign(header: Readonly<Record<string, unknown>> | string, payload: Readonly<Record<string, unknown>> | string, options?: SignOptions): string;
  /** A legitimate stamp from the real client stamper. */
  stamp(options?: StampOptions): Promise<string>;
  /** An HTTP request to the target carrying `stamp` (an array sends the header once per element). */
  http(stamp: string | readonly string[] | undefined, options?: HttpOptions): HttpAttackRequest;
  /** The HTTP/1.1 text of the route's request (method, body) to the target carrying `stamp`, for raw requests. */
  httpText(stamp: string): Uint8Array;
  /** The public half of an asymmetric client key; undefined for HMAC keys. */
  readonly publicKey: PublicKeyForms | undefined;
  /** The public JWK of the throwaway attacker key (for embedded-`jwk` attacks). */
  readonly attackerPublicJwk: Readonly<Record<string, unknown>>;
  readonly tamper: TokenTamper;
  /** Ticket tools (PROTOCOL.md §7), present when the target issues tickets or an issuer was named. */
  readonly tickets: TicketTools | undefined;
}

/**
 * What an attack asks of the ticket issuer's rate-limited endpoint (PROTOCOL.md §7.1), so the
 * run can budget the limit before it sends anything: whether it uses the run's held ticket
 * (asked once, reused while it lasts), and how many other requests it sends there.
 */
export interface TicketRequestCost {
  readonly held?: boolean;
  readonly more?: number | ((tickets: TicketTools) => number);
}

export interface Attack {
  /** Stable, kebab-case: what `--only` matches. */
  readonly name: string;
  /** One sentence: what the attacker tries. */
  readonly description: string;
  readonly expect: Expectation;
  /** `ip`: an attack on the agreement check (reported specially when the target only flags mismatches). */
  readonly tags?: readonly string[];
  /** Requests to the ticket issuer (ticket attacks): budgeted against its rate limit. */
  readonly ticketRequests?: TicketRequestCost;
  build(ctx: AttackContext): AttackPlan | Promise<AttackPlan>;
}

/** What came back for one request. */
export type Outcome =
  | { readonly kind: 'response'; readonly status: number; readonly reason?: string; readonly agreement?: string; readonly source?: 'ticket' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly code: string }
  /** Not sent: the issuer's rate limit has no request left for it (`why` says so). */
  | { readonly kind: 'not-sent'; readonly why: string };

export type ResultVerdict = 'pass' | 'warn' | 'fail' | 'skip' | 'error';

export interface AttackResult {
  readonly name: string;
  readonly description: string;
  readonly expect: Expectation;
  /** What a safe verifier must do, in words: `reject 401 replay`. */
  readonly must: string;
  /** What came back, in words: `401 replay`, `200 accepted (match)`, `connection closed`. */
  readonly got: string;
  readonly verdict: ResultVerdict;
  /** Why a result is not a plain pass. */
  readonly note?: string;
  /** Every request's outcome, in the order sent. */
  readonly outcomes: readonly Outcome[];
  readonly tags: readonly string[];
  readonly ms: number;
  /**
   * A legitimate request of this attack was refused — it is a control, or the original a
   * replay needs — so it proves nothing about the target: the run is INCONCLUSIVE, not UNSAFE.
   */
  readonly legitimateRefused?: true;
}

export interface AttackSummary {
  readonly total: number;
  readonly passed: number;
  readonly warnings: number;
  readonly failed: number;
  readonly skipped: number;
  readonly errors: number;
}

export interface AttackReport {
  readonly target: string;
  readonly ip: string;
  /** Where `ip` came from: the target's echo endpoint, or the caller. */
  readonly ipSource: 'echo' | 'given';
  readonly kid: string;
  readonly alg: StampAlg;
  /** The ticket endpoint the ticket attacks asked, when they ran. */
  readonly ticketIssuer?: string;
  readonly startedAt: string;
  readonly ms: number;
  readonly results: readonly AttackResult[];
  readonly summary: AttackSummary;
  /** The route attacked: every request uses this method (POST-like methods carry a digested body). */
  readonly method: string;
  /** The ticket issuer's rate limit as it stated it, and what the run planned and sent (when ticket attacks ran). */
  readonly ticketRequests?: TicketRequestBudget;
  /** Things a reader must know to read the results (e.g. the target only flags ip mismatches). */
  readonly notes: readonly string[];
  /**
   * SAFE: every attack rejected, every legitimate request accepted. UNSAFE: an attack was
   * accepted while the legitimate requests of its kind (stamp or ticket) were. INCONCLUSIVE:
   * the run cannot tell — a control or a replay's original was refused, an attack could not
   * run, or the issuer's rate limit left no room; `inconclusive` says which.
   */
  readonly verdict: RunVerdict;
  /** Why the verdict is INCONCLUSIVE, one sentence each; empty otherwise. */
  readonly inconclusive: readonly string[];
  /** The CLI's exit status: SAFE 0, UNSAFE 1, INCONCLUSIVE 2 (as when the run cannot start). */
  readonly exitCode: 0 | 1 | 2;
}

export type RunVerdict = 'SAFE' | 'UNSAFE' | 'INCONCLUSIVE';

export interface TicketRequestBudget {
  /** Requests to the ticket endpoint the selected attacks need (the held ticket once). */
  readonly needed: number;
  /** Requests the run sent there. */
  readonly sent: number;
  /** Requests per window, from the issuer's `x-ratelimit-limit`; absent when it states none. */
  readonly limit?: number;
  /** Requests left when the run ended, as the issuer last stated minus those sent since. */
  readonly left?: number;
}
