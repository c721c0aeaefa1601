import { STAMP_HEADER, TICKET_HEADER } from '../../shared/constants.js';
import { originFromHost } from '../../shared/htu.js';
import type { Reason } from '../../shared/reasons.js';
import { nodeCompactCodec } from '../jws/compact.js';
import type { Verdict } from '../verify/types.js';

/**
 * Which header lines cross the gateway, in each direction (RFC 9110 §7.6). Pure: header
 * lines in, header lines out.
 *
 * Names are compared the way the weakest upstream reads them: lower-cased, with every
 * character other than a letter or digit read as `-`. CGI, WSGI and Rack turn
 * `X-Attested-Client-IP` and `X_Attested_Client_IP` into the same `HTTP_X_ATTESTED_CLIENT_IP`,
 * and lighttpd's CGI, FastCGI and SCGI do the same to `X.Attested.Client.IP`,
 * `X~Attested~Client~IP` and every other token character (`http_cgi_encode_varname`: letters
 * upper-cased, digits kept, the rest `_`), so a client that could send another spelling could
 * choose what the upstream trusts (Puma CVE-2024-45614).
 */

export const ATTESTED_IP_HEADER = 'x-attested-client-ip';
export const ATTESTED_AGREEMENT_HEADER = 'x-attested-client-ip-agreement';
/** `stamp` or `ticket`: how the address was attested. */
export const ATTESTED_SOURCE_HEADER = 'x-attested-client-ip-source';
/** The ticket's issuer (`iss`), on ticket-attested requests only. */
export const ATTESTED_ISSUER_HEADER = 'x-attested-client-ip-issuer';
/**
 * `unchecked` on a stamp accepted without its replay check (`--on-store-error accept` while the
 * store is down); absent otherwise, which a client cannot fake: its own spelling stops here.
 */
export const ATTESTED_REPLAY_HEADER = 'x-attested-client-ip-replay';
/**
 * `--report-only`: why the stamp was refused, on a request forwarded without an attested
 * address. Its name starts like the others, so a client's own spelling of it stops here too.
 */
export const ATTESTED_REFUSAL_HEADER = 'x-attested-client-ip-refusal';

/** Hop-by-hop: about one connection, never forwarded in either direction (RFC 9110 §7.6.1). */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Addresses and schemes a client may claim about itself, under the names proxies, platforms
 * and frameworks read them from. The gateway writes its own X-Forwarded-For/-Proto/-Host;
 * every other claim is dropped rather than passed on as if true. Exported for the test that
 * keeps `gateway --help` and docs/cli.md listing the same names.
 */
export const CLIENT_CLAIMS: readonly string[] = Object.freeze([
  'forwarded',
  'forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'true-client-ip',
  'x-true-client-ip',
  'akamai-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'fly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'x-proxyuser-ip',
  'wl-proxy-client-ip',
  'proxy-client-ip',
  'x-appengine-remote-addr',
  'x-appengine-user-ip',
  'x-azure-clientip',
  'x-azure-socketip',
  'x-envoy-external-address',
]);

/** Headers that make some upstreams (IIS URL Rewrite, older Symfony) serve another path than the request's. */
export const TARGET_OVERRIDES: readonly string[] = Object.freeze(['x-original-url', 'x-rewrite-url', 'x-override-url']);

/**
 * Headers that make some upstreams (Express's method-override, Rails, Symfony, ASP.NET) act on
 * another method than the request's: the stamp binds `htm`, and a preflight, forwarded with no
 * stamp at all, would otherwise reach a handler as a `DELETE`.
 */
export const METHOD_OVERRIDES: readonly string[] = Object.freeze(['x-http-method-override', 'x-http-method', 'x-method-override']);

/** What a client may never send the upstream by exact (canonical) name. */
const DROPPED: ReadonlySet<string> = new Set([...CLIENT_CLAIMS, ...TARGET_OVERRIDES, ...METHOD_OVERRIDES, STAMP_HEADER, TICKET_HEADER]);

/** Never on a CORS preflight (Fetch, CORS-preflight request): no credentials and no body. */
const NOT_ON_PREFLIGHT: ReadonlySet<string> = new Set(['cookie', 'authorization', 'proxy-authorization']);

/** How the weakest upstream sees a header name: lower case, anything but a letter or digit as `-`. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '-');
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
    DROPPED.has(canonical) ||
    // X-Forwarded-* and the bare or run-together X-Forwarded, X-ForwardedFor
    canonical.startsWith('x-forwarded') ||
    canonical.startsWith(ATTESTED_IP_HEADER) ||
    // answered by the gateway itself (Node sends the 100 Continue); the body follows as usual
    canonical === 'expect'
  );
}

/** What the gateway knows and tells the upstream. */
export interface UpstreamFacts {
  /** The accepted stamp; `null` for a request forwarded unverified (no X-Attested-Client-IP* then). */
  readonly verdict: (Pick<Verdict, 'ip' | 'agreement' | 'source' | 'issuer'> & Partial<Pick<Verdict, 'replayChecked'>>) | null;
  /** The address the gateway itself observed for the client (after its trusted proxies), if any. */
  readonly clientAddress: string | undefined;
  /** `http` or `https`: how the client reached the gateway. */
  readonly protocol: string;
  /** The client's own forwarding header, when the verifier was told to read a non-standard one (`--forwarded-header`). */
  readonly forwardedHeader?: string | undefined;
  /** Drop the client's Content-Length: the body goes as buffered bytes and is framed anew. */
  readonly reframeBody?: boolean;
  /**
   * The authority (`host[:port]`) of the origin the accepted stamp was bound to (`boundAuthority`):
   * X-Forwarded-Host on a verified request, which never carries the client's Host there, and on
   * one refused in report-only (the origin a stamp would have had to be bound to).
   * Unused for a request forwarded unverified (a CORS preflight): its X-Forwarded-Host is its Host as received.
   */
  readonly boundAuthority?: string | undefined;
  /**
   * `--report-only`: the reason the verifier refused the request's stamp (`missing` when it had
   * none). The request goes on unverified, X-Attested-Client-IP-Refusal in place of X-Attested-Client-IP.
   */
  readonly refusal?: Reason | undefined;
  /** A CORS preflight, forwarded unverified: without Cookie, Authorization, Proxy-Authorization and Content-*, which no preflight carries. */
  readonly preflight?: boolean;
  /** Written in place of the client's Max-Forwards (`maxForwardsOf`, one less than it sent). */
  readonly maxForwards?: number | undefined;
}

/**
 * The Max-Forwards of an OPTIONS request (RFC 9110 §7.6.2), which a proxy must lower by one, or
 * answer itself at 0: the one line's value, or undefined when there is none, more than one, or
 * one that is not a number (forwarded as received then; TRACE never is).
 */
export function maxForwardsOf(method: string, rawHeaders: readonly string[]): number | undefined {
  if (method !== 'OPTIONS') return undefined;
  const lines = linesOf(rawHeaders, 'max-forwards');
  const value = lines.length === 1 ? lines[0]!.trim() : '';
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

/**
 * An authority X-Forwarded-Host may carry: a name of letters, digits and `-._~`, or an IPv6
 * literal, and a port. WHATWG URL (so htu, and Host as the verifier normalises it) allows
 * more in a host, `,` `;` `!` `'` among them, and upstreams read X-Forwarded-Host as a list:
 * Express's `req.hostname` keeps what comes before the first comma, so
 * `evil.example,api.example` would be read as `evil.example`. Such a host gets no
 * X-Forwarded-Host; the upstream still has Host, as received.
 */
const PLAIN_AUTHORITY = /^(?:[a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/i;

function authorityOf(origin: string): string {
  return origin.slice(origin.indexOf('://') + 3);
}

/**
 * The origin (`scheme://host[:port]`) `htu` names in the stamp `token`, read without verifying
 * it: only for a stamp the verifier accepted, whose htu step 9 compared with the configured
 * origins. Undefined when the token cannot be read that far.
 */
export function stampedOrigin(token: string | readonly string[] | undefined): string | undefined {
  const htu = nodeCompactCodec.payloadMember(token, 'htu');
  if (typeof htu !== 'string') return undefined;
  const pathStart = htu.indexOf('/', htu.indexOf('://') + 3);
  return pathStart === -1 ? undefined : htu.slice(0, pathStart);
}

/**
 * The authority (`host[:port]`, default port omitted) of the origin a verified request's `htu`
 * named, from what the verifier compared it with (PROTOCOL §5 step 9): with no configured
 * `origins`, htu's origin is exactly the one `host` names under `scheme` (the scheme the
 * binding check believed); with one, it is that one. With several, htu named one of them and
 * step 9 did not compare it with Host: `stamped`, the origin the accepted stamp's htu names
 * (`stampedOrigin`), says which. Without it (a request refused in report-only: the origin a
 * stamp would have had to be bound to), the one `host` names when it names one; when Host
 * names none of them, undefined rather than a guess that could name the wrong one (and no
 * X-Forwarded-Host goes upstream). Undefined too when there is none (a Host the verifier
 * would have refused).
 */
export function boundAuthority(
  origins: readonly string[] | undefined,
  host: string | undefined,
  scheme: 'http' | 'https',
  stamped?: string,
): string | undefined {
  if (origins === undefined) {
    const origin = host === undefined ? undefined : originFromHost(host, scheme);
    return origin === undefined ? undefined : authorityOf(origin);
  }
  if (origins.length === 1) return authorityOf(origins[0]!);
  if (stamped !== undefined) return origins.includes(stamped) ? authorityOf(stamped) : undefined;
  if (host === undefined) return undefined;
  for (const origin of origins) if (originFromHost(host, origin.startsWith('https:') ? 'https' : 'http') === origin) return authorityOf(origin);
  return undefined;
}

function isDroppedFromPreflight(name: string): boolean {
  const canonical = canonicalHeaderName(name);
  return NOT_ON_PREFLIGHT.has(canonical) || canonical.startsWith('content-');
}

function linesOf(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values;
}

/**
 * The header lines the upstream receives, as a flat `[name, value, …]` list (order and
 * repeats kept): the client's own minus hop-by-hop lines, what the client's Connection names,
 * the stamp and ticket, and every spelling of a header the gateway writes, a client may claim
 * an address with or an upstream may take another path from (and, on a preflight, credentials
 * and Content-*); then the gateway's own. The client's Host is kept (first line only; the
 * gateway refuses a request with two before it gets here). X-Forwarded-Host is the bound
 * authority on a verified or refused request, the Host as received on an unverified one.
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
    if (lower !== 'host' && (isStrippedRequestHeader(name, listed, extra) || (facts.preflight === true && isDroppedFromPreflight(name)))) continue;
    if (lower === 'max-forwards' && facts.maxForwards !== undefined) continue;
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
    // said on the request itself, as serve's verdict says replayChecked: false, not only in the log
    if (verdict.replayChecked === false) out.push(ATTESTED_REPLAY_HEADER, 'unchecked');
  } else if (facts.refusal !== undefined) {
    out.push(ATTESTED_REFUSAL_HEADER, facts.refusal);
  }
  // what the gateway itself saw, whatever the stamp says: the upstream can compare the two
  if (facts.clientAddress !== undefined) out.push('x-forwarded-for', facts.clientAddress);
  out.push('x-forwarded-proto', facts.protocol);
  // verified or refused: the authority a stamp is bound to (and a refused one would have been),
  // not a Host line the client could write freely; unverified (a preflight): the Host as received
  const forwardedHost = verdict === null && facts.refusal === undefined ? host : facts.boundAuthority;
  if (forwardedHost !== undefined && PLAIN_AUTHORITY.test(forwardedHost)) out.push('x-forwarded-host', forwardedHost);
  if (facts.maxForwards !== undefined) out.push('max-forwards', String(facts.maxForwards));
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
