/**
 * The conformance vector format (test/conformance/README.md), as types. Nothing here knows
 * ipstamp: another implementation's adapter reads the same shapes.
 */

/** One header value, or every instance of a repeated header in order. */
export type VectorHeaderValue = string | string[];

export interface VectorOptions {
  maxAge: number;
  skew: number;
  trustedProxies: string[];
  forwardedHeader: string;
  /** Where the scheme may come from after origins and the PROXY SSL TLV (docs/protocol.md §5.1). */
  protocolHeader: 'x-forwarded-proto' | 'forwarded';
  onMismatch: 'reject' | 'flag';
  onUnverifiable: 'reject' | 'accept';
  onStoreError: 'reject' | 'accept';
  requireBodyDigest: boolean;
  origins?: string[];
  /** iss → JWK Set. */
  issuers?: Record<string, { keys: Record<string, unknown>[] }>;
}

export interface VectorRequest {
  method: string;
  /** The request-target as received: path and query. */
  target: string;
  /** Lower-case names. */
  headers: Record<string, VectorHeaderValue>;
  /** The body's exact bytes; absent for a request without a body (what a `cdg` then covers is the empty body). */
  body?: { text: string } | { base64: string };
  /** Does the route require a stamp? */
  required: boolean;
}

export interface VectorConnection {
  /** The TCP peer. Absent: the runtime reports none (undefined); null as some runtimes report it. */
  l3?: string | null;
  /** Source address of the PROXY header, when the connection had one. */
  l4?: string;
  /** The connection to the verifier itself is TLS. */
  tls: boolean;
  /** PP2_TYPE_SSL (0x20) of a PROXY v2 header: `client` is its bit field (0x01: the client used TLS). */
  proxySsl?: { client: number; verify: number };
}

export interface VectorReplayState {
  /** False: the store cannot answer (an outage). */
  available: boolean;
  /** (kid, jti) pairs already remembered, all still live at `now`. */
  seen: { kid: string; jti: string }[];
  /** Most pairs the store holds; `seen.length === capacity` means full. Absent: ample. */
  capacity?: number;
}

export interface ExpectedRemembered {
  kid: string;
  jti: string;
  /** Seconds since the epoch, by the verifier's clock: the pair must be held at least until then. */
  untilAtLeast?: number;
}

export type VectorExpectation =
  | { ok: false; reason: string; status: number; remembers?: ExpectedRemembered[] }
  | { ok: true; verdict: null }
  | {
      ok: true;
      source: 'stamp' | 'ticket';
      ip: string;
      agreement: 'match' | 'mismatch' | 'unverifiable';
      kid: string;
      jti: string;
      iat: number;
      /** null: the observed address is undefined. */
      observed: string | null;
      issuer?: string;
      /** null: no l4 hint was honoured. */
      l4?: string | null;
      replayChecked?: boolean;
      remembers?: ExpectedRemembered[];
    };

/** What an issuer is required to sign (§7.2); checked against the ticket it returns. */
export interface ExpectedTicket {
  iss: string;
  ip: string;
  /** The issuer's clock at signing: the ticket's iat may be this or up to a second earlier. */
  iat: number;
  /** iat + the configured lifetime. */
  exp: number;
  cnf: { jwk: Record<string, unknown> };
  /** The issuer key's kid and alg. */
  kid: string;
  alg: string;
}

export interface ConformanceVector {
  id: string;
  spec: string;
  description: string;
  /** The verifier's JWK Set; absent: the file's `keys`. */
  keys?: { keys: Record<string, unknown>[] };
  options: VectorOptions;
  /** The verifier's clock, seconds since the epoch. */
  now: number;
  request: VectorRequest;
  connection: VectorConnection;
  replay: VectorReplayState;
  expect: VectorExpectation | { ok: true; ticket: ExpectedTicket };
  /** Ticket-request vectors only: the issuer's private key, its configured origin (optional) and ticket lifetime. */
  issuer?: { key: Record<string, unknown>; iss?: string; lifetime: number };
}

export interface VectorFile {
  protocol: string;
  /** `verify`: the request goes to a verifier (§5, §7.4). `ticket-request`: to an issuer's ticket endpoint (§7.1). */
  kind: 'verify' | 'ticket-request';
  section: string;
  title: string;
  keys: { keys: Record<string, unknown>[] };
  vectors: ConformanceVector[];
}

/** What an implementation answered, in the vocabulary of the spec. */
export type ConformanceOutcome =
  | { ok: false; reason: string; status: number }
  | { ok: true; verdict: null }
  | {
      ok: true;
      verdict: {
        source: string;
        ip: string;
        agreement: string;
        kid: string;
        jti: string;
        iat: number;
        issuer: string | undefined;
        observed: string | undefined;
        l4: string | undefined;
        replayChecked: boolean;
      };
    };

export interface ConformanceRun {
  outcome: ConformanceOutcome;
  /** Every pair the verifier asked its replay store to remember, with the expiry it asked for (ms, its clock). */
  remembered: { kid: string; jti: string; untilMs: number }[];
}

/** What an issuer answered a ticket request. */
export interface TicketRequestRun {
  outcome: { ok: false; reason: string; status: number } | { ok: true; ticket: string; ip: string; exp: number };
  remembered: ConformanceRun['remembered'];
}

/** Plug an implementation in: build a verifier (or issuer) from the vector, feed it the request, report. */
export interface ConformanceAdapter {
  readonly name: string;
  run(vector: ConformanceVector, keys: { keys: Record<string, unknown>[] }): Promise<ConformanceRun>;
  /** Optional: implementations without an issuer skip the ticket-request vectors. */
  issue?(vector: ConformanceVector): Promise<TicketRequestRun>;
}
