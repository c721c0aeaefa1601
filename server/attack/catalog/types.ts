import type { Reason, StampAlg, StampClaims } from '../../../shared/index.js';
import type { TokenTamper } from './forge.js';

/**
 * What an attack is, and everything its `build` may use: the catalog is written against
 * these interfaces alone, and the runner (one folder up) implements them.
 */

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
export type AttackPlan = AttackRequest | readonly AttackRequest[] | { readonly race: readonly AttackRequest[] } | { readonly skip: string };

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

/** The harness's ticket keys: `holder` and `other` are ES256 (two keys, one kind), `eddsa` the other kind. */
export type TicketSigner = 'holder' | 'other' | 'eddsa';

/** The algs a ticket-bound key signs with (PROTOCOL.md §7). */
export type TicketAlg = 'ES256' | 'EdDSA';

/** A ticket key's public members, as a ticket request carries them and a ticket's `cnf.jwk` names them. */
export type TicketPublicJwk =
  { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string } | { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string };

/**
 * One of the harness's own ticket keys. A ticket needs no registration — the issuer vouches
 * for whatever public key the proof carries — so the harness makes fresh ones for each run.
 */
export interface TicketSigningKey {
  readonly alg: TicketAlg;
  /** The RFC 7638 thumbprint: a ticket-bound stamp's kid. */
  readonly kid: string;
  readonly publicJwk: TicketPublicJwk;
  /** The private JWK with kid and alg, as a client key file would hold it. */
  readonly privateJwk: Readonly<Record<string, unknown>> & { kid: string; alg: string };
  signInput(input: string): Buffer;
}

/** A ticket the issuer gave the harness, with what attacks need from its text. */
export interface IssuedTicket {
  readonly ticket: string;
  readonly ip: string;
  readonly exp: number;
  /** base64url SHA-256 of `ticket`. */
  readonly tth: string;
  readonly iss: string;
  readonly issuerKid: string;
}

export interface TicketStampOptions {
  /** Whose private key signs. Default `holder`. */
  readonly signer?: TicketSigner;
  /** Default: the signer's thumbprint. */
  readonly kid?: string;
  /** Sign as this (HMAC) alg with `secret` instead of the signer's key. */
  readonly signAs?: string;
  readonly secret?: string | Uint8Array;
  /** Default the route's method, and then its body's digest (`cdg`) when it has one. */
  readonly method?: string;
  readonly url?: string;
  /** Claims set after the usual ones (`undefined` leaves a claim out). */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface TicketProofOptions {
  readonly signer?: TicketSigner;
  /** Members set over `{alg, typ, jwk}` of the signer (`undefined` leaves one out). */
  readonly header?: Readonly<Record<string, unknown>>;
  readonly claims?: Readonly<Record<string, unknown>>;
  /** HMAC with this secret instead of the signer's key. */
  readonly secret?: string;
}

/** What ticket attacks (PROTOCOL.md §7) use: an issuer to ask, keys of the harness's own, raw signers. */
export interface TicketTools {
  /** The issuer's ticket endpoint. */
  readonly endpoint: URL;
  /** A local address the issuer trusts as a proxy, when the caller named one. */
  readonly proxyAddress: string | undefined;
  /** The target's clock-skew tolerance in seconds, as the caller stated it. */
  readonly skew: number;
  /** The longest the expiry attack may wait for a ticket to run out. */
  readonly maxWaitMs: number;
  key(signer?: TicketSigner): TicketSigningKey;
  /** The holder key's current ticket: asked once, reused while at least a second of it is left. */
  held(): Promise<IssuedTicket>;
  /** Whether `held()` answers without asking the issuer. */
  holding(): boolean;
  /** A new ticket, never cached; `headers` travel with the ticket request. */
  fresh(options?: { signer?: TicketSigner; headers?: Readonly<Record<string, string>> }): Promise<IssuedTicket>;
  /** A stamp bound to `ticket` (kid, ip, obs, tth as §7.3 says), with the changes asked for. */
  stamp(ticket: Pick<IssuedTicket, 'ticket' | 'ip'>, options?: TicketStampOptions): string;
  /** A ticket-request proof (§7.1) for the endpoint, with the changes asked for. */
  proof(options?: TicketProofOptions): string;
  /** A POST to the ticket endpoint carrying `proof`. */
  request(proof: string | undefined, options?: { headers?: Readonly<Record<string, string>>; localAddress?: string; setup?: boolean }): HttpAttackRequest;
  /** A ticket signed by an issuer key the harness made, which no verifier trusts. */
  forgeTicket(claims: Readonly<Record<string, unknown>>, header?: Readonly<Record<string, unknown>>): string;
}
