import type { IpStampError } from '../../shared/errors.js';
import type { Reason } from '../../shared/reasons.js';
import type { ObservationSource, StampAlg } from '../../shared/schema.js';

/** Headers as Node gives them: lower-case names; a repeated header as an array or joined. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** What the glue knows of the connection; the verifier derives the rest. */
export interface ConnectionHints {
  /**
   * TCP peer address, read when the connection was accepted (`peerAddressOf(socket)`). Unknown
   * (`undefined`, `null`, `0.0.0.0`, `::`) makes every stamp `ip-unverifiable` (PROTOCOL §4).
   */
  l3: string | null | undefined;
  /** Source address of a PROXY protocol header, if the connection layer accepted one. */
  l4?: string | undefined;
  /** Anything else the connection layer learned (PROXY TLVs such as the unique id), echoed into the verdict. */
  proxy?: Readonly<Record<string, unknown>> | undefined;
  /** The connection to this server is TLS (`socket.encrypted`): the scheme when no trusted evidence names one. */
  tls?: boolean | undefined;
  /**
   * The PROXY v2 header's SSL TLV (0x20), when it had one: true when its client flag 0x01 says
   * the client connected to the proxy over TLS, false when it says not. Believed only from a trusted l3.
   */
  proxyTls?: boolean | undefined;
}

/** Everything the verifier needs, as plain data (ARCHITECTURE.md: the core never sees a request object). */
export interface VerifyInput {
  method: string;
  /** The request-target as received: path and query (`/orders?id=1`). */
  url: string;
  headers: HeaderMap;
  /**
   * The exact body bytes as received; an empty array when the request has no body.
   * Undefined when the glue did not read them: a stamp with `cdg` is then
   * refused (`binding-mismatch`), since nobody can say what the client sent.
   */
  body?: Uint8Array | undefined;
  /**
   * Scheme of the connection itself, for glue that cannot fill `hints.tls` (which wins). The
   * verifier believes trusted evidence first (server/verify/scheme.ts). Default `http`.
   */
  protocol?: 'http' | 'https';
  hints: ConnectionHints;
  /** Is a stamp required on this route? Default true. */
  required?: boolean;
}

/** The network's view (PROTOCOL.md §4), as logged and returned. */
export interface NetworkHints {
  l3: string | undefined;
  l4: string | undefined;
  proxy: Readonly<Record<string, unknown>> | undefined;
  /** Entries of the configured forwarding header, left to right; `null` for an invalid entry. Empty when not honoured. */
  l7: readonly (string | null)[];
  observed: string | undefined;
  /** Which hint named the observed address. */
  decidedBy: 'l3' | 'l4' | 'l7' | undefined;
}

export type Agreement = 'match' | 'mismatch' | 'unverifiable';

export interface Verdict {
  ip: string;
  agreement: Agreement;
  kid: string;
  alg: StampAlg;
  jti: string;
  iat: number;
  exp?: number;
  obs?: ObservationSource;
  source: 'stamp' | 'ticket';
  issuer?: string;
  /** False only when `onStoreError: 'accept'` let a stamp through without a replay check. */
  replayChecked: boolean;
  hints: NetworkHints;
}

export type VerifyResult =
  | { ok: true; verdict: Verdict; hints: NetworkHints }
  /** No stamp, on a route that does not require one. */
  | { ok: true; verdict: null; hints: NetworkHints }
  | {
      ok: false;
      reason: Reason;
      status: 401 | 403 | 503;
      error: IpStampError;
      kid?: string;
      hints: NetworkHints;
      /** With `store-unavailable` from a store that had no room: `full` (always refused, whatever `onStoreError`). */
      store?: 'full';
    };
