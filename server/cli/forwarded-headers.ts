import { STAMP_HEADER, TICKET_HEADER } from '../../shared/constants.js';
import type { Verdict } from '../verify/types.js';

/**
 * Which header lines cross the gateway, in each direction (RFC 9110 §7.6). Pure: header
 * lines in, header lines out.
 *
 * Names are compared the way the weakest upstream reads them: lower-cased, with `_` read as
 * `-`. CGI, WSGI and Rack turn `X-Attested-Client-IP` and `X_Attested_Client_IP` into the
 * same `HTTP_X_ATTESTED_CLIENT_IP`, so a client that could send the second spelling could
 * choose what the upstream trusts (Puma CVE-2024-45614).
 */

export const ATTESTED_IP_HEADER = 'x-attested-client-ip';
export const ATTESTED_AGREEMENT_HEADER = 'x-attested-client-ip-agreement';
/** `stamp` or `ticket`: how the address was attested. */
export const ATTESTED_SOURCE_HEADER = 'x-attested-client-ip-source';
/** The ticket's issuer (`iss`), on ticket-attested requests only. */
export const ATTESTED_ISSUER_HEADER = 'x-attested-client-ip-issuer';

/** Hop-by-hop: about one connection, never forwarded in either direction (RFC 9110 §7.6.1). */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Addresses and schemes a client may claim about itself. The gateway writes its own
 * X-Forwarded-For/-Proto/-Host; every other claim is dropped rather than passed on as if true.
 */
const CLIENT_CLAIMS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
]);

/** How an upstream behind CGI/WSGI/Rack sees a header name. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/** The field names a Connection header lists (RFC 9110 §7.6.1), canonical. */
export function connectionOptions(values: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const value of values) {
    for (const token of value.split(',')) {
      const name = token.trim();
      if (name.length > 0) names.add(canonicalHeaderName(name));
    }
  }
  return names;
}

/** Does a client-sent line named `name` stop at the gateway? (`listed`: what the client's Connection names.) */
export function isStrippedRequestHeader(name: string, listed: ReadonlySet<string> = new Set(), extra: ReadonlySet<string> = new Set()): boolean {
  const canonical = canonicalHeaderName(name);
  return (
    HOP_BY_HOP.has(canonical) ||
    listed.has(canonical) ||
    extra.has(canonical) ||
    CLIENT_CLAIMS.has(canonical) ||
    canonical.startsWith('x-forwarded-') ||
    canonical.startsWith(ATTESTED_IP_HEADER) ||
    canonical === STAMP_HEADER ||
    canonical === TICKET_HEADER ||
    // answered by the gateway itself (Node sends the 100 Continue); the body follows as usual
    canonical === 'expect'
  );
}

/** What the gateway knows and tells the upstream. */
export interface UpstreamFacts {
  /** The accepted stamp; `null` for a request forwarded unverified (no X-Attested-Client-IP* then). */
  readonly verdict: Pick<Verdict, 'ip' | 'agreement' | 'source' | 'issuer'> | null;
  /** The address the gateway itself observed for the client (after its trusted proxies), if any. */
  readonly clientAddress: string | undefined;
  /** `http` or `https`: how the client reached the gateway. */
  readonly protocol: string;
  /** The client's own forwarding header, when the verifier was told to read a non-standard one (`--forwarded-header`). */
  readonly forwardedHeader?: string | undefined;
  /** Drop the client's Content-Length: the body goes as buffered bytes and is framed anew. */
  readonly reframeBody?: boolean;
}

function linesOf(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values;
}

/**
 * The header lines the upstream receives, as a flat `[name, value, …]` list (order and
 * repeats kept): the client's own minus hop-by-hop lines, what the client's Connection names,
 * the stamp and ticket, and every spelling of a header the gateway writes or a client may
 * claim an address with; then the gateway's own. The client's Host is kept (first line only).
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], facts: UpstreamFacts): string[] {
  const listed = connectionOptions(linesOf(rawHeaders, 'connection'));
  const extra = new Set<string>();
  if (facts.forwardedHeader !== undefined) extra.add(canonicalHeaderName(facts.forwardedHeader));
  if (facts.reframeBody) extra.add('content-length');
  const out: string[] = [];
  let host: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    // Host is the request's own, never a connection option: a Connection line cannot remove it
    if (lower !== 'host' && isStrippedRequestHeader(name, listed, extra)) continue;
    if (lower === 'host') {
      if (host !== undefined) continue;
      host = value;
    }
    out.push(name, value);
  }
  const { verdict } = facts;
  if (verdict !== null) {
    out.push(ATTESTED_IP_HEADER, verdict.ip, ATTESTED_AGREEMENT_HEADER, verdict.agreement, ATTESTED_SOURCE_HEADER, verdict.source);
    if (verdict.source === 'ticket' && verdict.issuer !== undefined) out.push(ATTESTED_ISSUER_HEADER, verdict.issuer);
  }
  // what the gateway itself saw, whatever the stamp says: the upstream can compare the two
  if (facts.clientAddress !== undefined) out.push('x-forwarded-for', facts.clientAddress);
  out.push('x-forwarded-proto', facts.protocol);
  if (host !== undefined) out.push('x-forwarded-host', host);
  return out;
}

/** Response headers as undici gives them: lower-case names, repeats as arrays. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The upstream's response headers the client receives: all but hop-by-hop ones and what the
 * upstream's Connection names. The gateway frames the body (and keeps or closes the client's
 * connection) itself.
 */
export function clientResponseHeaders(headers: ResponseHeaders): Record<string, string | string[]> {
  const connection = headers.connection;
  const listed = connectionOptions(connection === undefined ? [] : Array.isArray(connection) ? connection : [connection]);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const canonical = canonicalHeaderName(name);
    if (HOP_BY_HOP.has(canonical) || listed.has(canonical)) continue;
    out[name] = value;
  }
  return out;
}
