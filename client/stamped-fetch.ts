import { STAMP_HEADER, TICKET_HEADER } from '../shared/constants.js';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { resolveAddressOption } from './address-option.js';
import { IpStampClientError } from './client-error.js';
import { bodyStream, resolveFetch, type FetchLike, type ResponseLike } from './fetch-like.js';
import { isBadTicketResponse, isClockRefusal, isIpMismatchResponse } from './ip-mismatch.js';
import { createServerClocks, learningFetch, parseHttpDate, type ServerClocks } from './server-clock.js';
import { createTicketHolder, type HeldTicket } from './ticket-holder.js';
import { ticketKid, type TicketKey } from './ticket-proof.js';
import { algOfPublicJwk, publicMembers } from './browser-key.js';
import { staticAddress, type AddressSource } from './address-source.js';
import type { PerOriginAddress } from './per-origin-address.js';
import { prepareBody, type PreparedBody } from './request-body.js';
import { createRequestStamper, stampedAddress, type RequestStamper } from './request-stamper.js';
import { ticketSigningKey, type StampKeyInput } from './signing-key.js';

interface FetchOptionsBase<R extends ResponseLike> {
  /** Sign a SHA-256 of the body (`cdg`). Stream bodies then fail with `ERR_IPSTAMP_BODY_NOT_DIGESTIBLE`. */
  bodyDigest?: boolean;
  /** The fetch to wrap (and to ask the echo endpoint or the issuer with). Default: the global fetch. */
  fetch?: FetchLike<R>;
  /** Clock in ms, for tests. */
  now?: () => number;
  /**
   * How far (ms, either way) the time a stamp is signed with may be moved from the local clock
   * to the server's, learned from its `Date`. Default 300000 (5 minutes); 0 turns correction off.
   */
  maxClockCorrectionMs?: number;
}

/**
 * An address written in the code: an IPv4 dotted quad or an IPv6 address (checked at run
 * time). A `string` from configuration is no `AddressLiteral`: pass `staticAddress(value)`, so
 * that `'echo'` or `'ticket'` read from a file can never pick a mode by accident.
 */
export type AddressLiteral = `${number}.${number}.${number}.${number}` | `${string}:${string}`;

/** `ip` names the address itself: a literal, an `AddressSource`, or a `PerOriginAddress`. */
export interface AddressFetchOptions<R extends ResponseLike = Response> extends FetchOptionsBase<R> {
  key: StampKeyInput;
  ip: AddressLiteral | AddressSource | PerOriginAddress;
  issuer?: undefined;
  echoUrl?: undefined;
  echoTtlMs?: undefined;
}

/** `ip: 'echo'`: the address each target's `/.well-known/ipstamp` reports. */
export interface EchoFetchOptions<R extends ResponseLike = Response> extends FetchOptionsBase<R> {
  key: StampKeyInput;
  ip: 'echo';
  /** One echo endpoint for every target instead of each origin's own. */
  echoUrl?: string | URL;
  /** How long a learned address is reused. Default 5 minutes. */
  echoTtlMs?: number;
  issuer?: undefined;
}

/** `ip: 'ticket'`: the address an issuer attests (PROTOCOL.md §7). */
export interface TicketFetchOptions<R extends ResponseLike = Response> extends FetchOptionsBase<R> {
  /** An asymmetric key (ES256, EdDSA) with its `publicJwk`, e.g. from `generateStampKey`. */
  key: TicketKey | (TicketKey & StampKeyInput);
  ip: 'ticket';
  /** The issuer's origin or its ticket endpoint. */
  issuer: string | URL;
  echoUrl?: undefined;
  echoTtlMs?: undefined;
}

/**
 * The options of `createStampedFetch`, one shape per address mode (`ip`): what only one mode
 * reads (`issuer`, `echoUrl`, `echoTtlMs`) does not type-check with another.
 */
export type StampedFetchOptions<R extends ResponseLike = Response> = AddressFetchOptions<R> | EchoFetchOptions<R> | TicketFetchOptions<R>;

/** Every key of every mode's options (`AddressFetchOptions` names the other modes' keys as `undefined`). */
export const STAMPED_FETCH_OPTION_NAMES: OptionNames<AddressFetchOptions> = Object.freeze({
  key: true,
  ip: true,
  bodyDigest: true,
  fetch: true,
  now: true,
  maxClockCorrectionMs: true,
  issuer: true,
  echoUrl: true,
  echoTtlMs: true,
});

export type StampedFetch<R extends ResponseLike = Response> = (input: string | URL | Request, init?: RequestInit) => Promise<R>;

/** Fetch normalizes only these methods' case (Fetch standard, "normalize a method"); we send every method upper case, as `htm` says. */
function wireMethod(method: unknown): string {
  if (typeof method !== 'string' || method === '') throw new TypeError('init.method must be a non-empty string');
  return method.toUpperCase();
}

function isRequestLike(input: unknown): input is Request {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof URL) &&
    typeof (input as Request).clone === 'function' &&
    typeof (input as Request).url === 'string'
  );
}

/**
 * What relative URLs are resolved against: in a page, the document's base URL (a `<base href>`
 * moves it off the page's location), in a worker its location — what fetch resolves them against.
 */
function pageBase(): string | undefined {
  try {
    const base: unknown = typeof document === 'undefined' ? undefined : (document as { baseURI?: unknown } | null)?.baseURI;
    if (typeof base === 'string') return base;
    return typeof location === 'undefined' ? undefined : location.href;
  } catch {
    return undefined; // runtimes whose `location` getter throws when none was set (Deno without --location)
  }
}

/** Bun's fetch (1.4) sends a path's leading slashes as one: `//a//b` goes out as `/a//b`. */
const FETCH_MERGES_LEADING_SLASHES = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

/**
 * The URL a stamp names: the one fetch is called with, as fetch sends it (PROTOCOL.md §2.2,
 * "path as sent"). On Bun, a path that starts with `//` leaves with one slash, and its stamp
 * names that path, else the verifier would find it bound to another one (`binding-mismatch`).
 */
function signedUrl(url: URL): URL {
  if (!FETCH_MERGES_LEADING_SLASHES || !url.pathname.startsWith('//')) return url;
  const sent = new URL(url.href);
  sent.pathname = url.pathname.replace(/^\/+/, '/');
  return sent;
}

function targetUrl(input: string | URL | Request): URL {
  const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(href, pageBase());
  } catch {
    throw new TypeError('input must be an absolute http(s) URL, or one relative to the page');
  }
}

/**
 * One request of a call: the caller's own, or a redirect hop the SDK follows. `input` and `init`
 * are what fetch is called with; `url` and `method` are what the stamp is signed for.
 */
interface Hop {
  input: string | URL | Request;
  init: RequestInit | undefined;
  request: Request | undefined;
  url: URL;
  method: string;
  body: PreparedBody;
}

type RedirectMode = 'follow' | 'error' | 'manual';

/** What the caller asked fetch to do with a redirect (fetch's own default: follow). */
function redirectMode(init: RequestInit | undefined, request: Request | undefined): RedirectMode {
  const mode: unknown = init?.redirect ?? request?.redirect ?? 'follow';
  if (mode !== 'follow' && mode !== 'error' && mode !== 'manual') throw new TypeError("init.redirect must be 'follow', 'error' or 'manual'");
  return mode;
}

/**
 * A copy of the hop's init with the stamp headers set (and the digested body bytes, when they
 * were replaced). Fetch never follows a redirect itself: a stamp is bound to one method and URL,
 * so the SDK follows it with a new stamp (`'follow'` goes out as `'manual'`).
 */
function stampedInit(hop: Hop, stampHeaders: Record<string, string>, mode: RedirectMode): RequestInit {
  // As fetch does: init.headers, when given, replace the Request's headers.
  const headers = new Headers(hop.init?.headers ?? hop.request?.headers);
  for (const [name, value] of Object.entries(stampHeaders)) headers.set(name, value);
  const sent: RequestInit = { ...hop.init, method: hop.method, headers, redirect: mode === 'follow' ? 'manual' : mode };
  if (hop.body.replacement) {
    sent.body = hop.body.replacement.body as Uint8Array<ArrayBuffer>;
    const type = hop.body.replacement.contentType;
    if (type !== null && !headers.has('content-type')) headers.set('content-type', type);
  }
  return sent;
}

/** Fetch's limit (Fetch standard, "HTTP-redirect fetch"): a 21st redirect is a network error. */
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Dropped when a redirect turns the request into a GET without a body (fetch's "request-body-header names"). */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];
/** Dropped on a redirect to another origin, as fetch does (the last three as undici does). */
const CROSS_ORIGIN_DROPPED = ['authorization', 'proxy-authorization', 'cookie', 'host'];
/** What a hop sent as a URL (no longer the caller's Request) keeps of that Request. */
const REQUEST_SETTINGS = ['signal', 'credentials', 'cache', 'mode', 'referrer', 'referrerPolicy', 'keepalive'] as const;

function isOpaqueRedirect(response: ResponseLike): boolean {
  return (response as { type?: unknown }).type === 'opaqueredirect';
}

function requestSettings(request: Request | undefined): RequestInit {
  const settings: Record<string, unknown> = {};
  if (request === undefined) return settings;
  for (const name of REQUEST_SETTINGS) {
    const value: unknown = request[name];
    if (value !== undefined) settings[name] = value;
  }
  return settings as RequestInit;
}

/**
 * The request a redirect asks for (Fetch standard, "HTTP-redirect fetch"): the Location resolved
 * against the URL the hop was sent to; a GET without a body after a 303 (or after a 301/302 to a
 * POST); else the same method and body, which a stream cannot give a second time.
 */
function redirectedHop(hop: Hop, status: number, location: string, redirects: number, digest: boolean): Hop {
  if (redirects >= MAX_REDIRECTS) throw new IpStampClientError('ERR_IPSTAMP_TOO_MANY_REDIRECTS');
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw new IpStampClientError('ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
    throw new IpStampClientError('ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED');
  }
  // a stream cannot be sent a second time
  if (status !== 303 && !hop.body.replayable) throw new IpStampClientError('ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED');
  const toGet = ((status === 301 || status === 302) && hop.method === 'POST') || (status === 303 && hop.method !== 'GET' && hop.method !== 'HEAD');
  const headers = new Headers(hop.init?.headers ?? hop.request?.headers);
  if (toGet) for (const name of BODY_HEADERS) headers.delete(name);
  if (url.origin !== hop.url.origin) for (const name of CROSS_ORIGIN_DROPPED) headers.delete(name);
  const method = toGet ? 'GET' : hop.method;
  const init: RequestInit = { ...requestSettings(hop.request), ...hop.init, method, headers };
  let body = hop.body;
  if (toGet) {
    delete init.body;
    delete (init as { duplex?: unknown }).duplex;
    body = digest ? { bytes: new Uint8Array(0), replayable: true } : { replayable: true };
  }
  return { input: url.href, init, request: undefined, url, method, body };
}

/**
 * Sends `first` with `sendHop` (which stamps it, and may send it once more after a refusal) and,
 * when the caller's mode is `'follow'`, each redirect as a hop of its own with its own stamp, up
 * to fetch's limit. What `sendHop` learns from a refusal, it learns for that hop's origin.
 */
async function fetchFollowing<R extends ResponseLike>(first: Hop, mode: RedirectMode, digest: boolean, sendHop: (hop: Hop) => Promise<R>): Promise<R> {
  let hop = first;
  for (let redirects = 0; ; redirects++) {
    const response = await sendHop(hop);
    if (mode !== 'follow') return response;
    if (isOpaqueRedirect(response)) throw new IpStampClientError('ERR_IPSTAMP_OPAQUE_REDIRECT');
    const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return response; // as fetch: a redirect status without a Location is the answer
    await discardBody(response);
    hop = redirectedHop(hop, response.status, location, redirects, digest);
  }
}

/**
 * The first hop of a call: the caller's init as given, and the caller's Request, or else the URL
 * resolved here: fetch is called with the very URL the stamp is signed for, never left to
 * resolve a relative one against a base of its own. The body is looked at (and a buffer copied)
 * before the first await, as fetch does when it is called.
 */
async function firstHop(input: string | URL | Request, init: RequestInit | undefined, digest: boolean): Promise<Hop> {
  const request = isRequestLike(input) ? input : undefined;
  const url = targetUrl(input);
  const method = wireMethod(init?.method ?? request?.method ?? 'GET');
  // the headers as they are now, as fetch reads them when called: not as the caller's object
  // holds them after the awaits below (echo, key, signature)
  const asCalled = init?.headers === undefined ? init : { ...init, headers: new Headers(init.headers) };
  const body = await prepareBody(request, asCalled, digest);
  return { input: request ?? url.href, init: asCalled, request, url, method, body };
}

export function checkEchoOnlyOptions(options: { ip: unknown; echoUrl?: unknown; echoTtlMs?: unknown; issuer?: unknown }): void {
  if (options.ip !== 'echo' && (options.echoUrl !== undefined || options.echoTtlMs !== undefined)) {
    throw new TypeError("echoUrl and echoTtlMs apply only to ip: 'echo'");
  }
  if ((options.ip === 'ticket') !== (options.issuer !== undefined)) throw new TypeError("issuer goes with ip: 'ticket', and ip: 'ticket' needs it");
}

interface SentRequest<R> {
  token: string;
  response: R;
  /** The correction the stamp was signed with. */
  correction: number;
  sentAt: number;
  receivedAt: number;
}

/** The clock a stamp for `origin` is signed by, noting the correction it used in `signed`. */
function signingClock(clocks: ServerClocks, origin: string, signed: { correction: number }): () => number {
  return () => {
    signed.correction = clocks.correction(origin);
    return clocks.local() + signed.correction;
  };
}

/**
 * The request sent once more after `refused`, with a stamp `stamp` makes — unless there is none
 * to make: a stream body cannot be sent again, and when the new stamp fails (the echo or the
 * issuer is down) the refusal is the answer. Its body is dropped only once the retry is sent.
 */
async function retried<R extends ResponseLike, S>(
  refused: R,
  replayable: boolean,
  stamp: () => Promise<S>,
  send: (stamped: S) => Promise<SentRequest<R>>,
): Promise<R> {
  if (!replayable) return refused;
  let stamped: S;
  try {
    stamped = await stamp();
  } catch {
    return refused;
  }
  await discardBody(refused);
  return (await send(stamped)).response;
}

/** Sends a stamped request and notes, by the local clock, when it left and when its answer came. */
async function sendTimed<R extends ResponseLike>(
  clocks: ServerClocks,
  stamped: { token: string; correction: number },
  send: () => Promise<R>,
): Promise<SentRequest<R>> {
  const sentAt = clocks.local();
  const response = await send();
  return { ...stamped, response, sentAt, receivedAt: clocks.local() };
}

/**
 * After an `expired` or `not-yet-valid` refusal: learns the server's time from that answer's
 * `Date`. True when a new stamp would carry another time than the refused one — learned from
 * this answer or, when many were refused at once, from another's. A refusal from a server whose
 * clock agrees with the stamp's (or is beyond the bound, or sent no readable Date) is not worth
 * a second try.
 */
async function clockCorrected(clocks: ServerClocks, origin: string, sent: SentRequest<ResponseLike>): Promise<boolean> {
  if (!(await isClockRefusal(sent.response))) return false;
  clocks.learn(origin, parseHttpDate(sent.response.headers.get('date')), sent.sentAt, sent.receivedAt);
  return clocks.correction(origin) !== sent.correction;
}

async function discardBody(response: ResponseLike): Promise<void> {
  await bodyStream(response)
    ?.cancel()
    .catch(() => undefined);
}

/** With a ticket, the stamp's kid is the key's thumbprint and its ip, obs and tth come from the ticket. */
function ticketMode<R extends ResponseLike>(options: TicketFetchOptions<R>, fetchFn: FetchLike<R>, clocks: ServerClocks) {
  const key = options.key as TicketKey & { key?: TicketKey['privateKey'] };
  const given = key.privateKey ?? key.key;
  if (typeof key.publicJwk !== 'object' || key.publicJwk === null || given === undefined || (key.alg !== 'ES256' && key.alg !== 'EdDSA')) {
    throw new TypeError("ip: 'ticket' needs an ES256 or EdDSA key with its publicJwk (generateStampKey makes one)");
  }
  // a private JWK: its use and key_ops checked now, as in the other modes, not at the first proof
  const privateKey = ticketSigningKey(given, key.alg);
  // checked here, not when the kid (a thumbprint) is computed: that is a promise no one awaits yet
  const members = publicMembers(key.publicJwk);
  if (members === undefined || algOfPublicJwk(members) !== key.alg) {
    throw new TypeError('key.publicJwk must be the public JWK of key.alg: P-256 (kty EC, crv, x, y) for ES256, Ed25519 (kty OKP, crv, x) for EdDSA');
  }
  if (options.bodyDigest !== undefined && typeof options.bodyDigest !== 'boolean') throw new TypeError('bodyDigest must be a boolean');
  const ticketKey: TicketKey = { privateKey, publicJwk: key.publicJwk, alg: key.alg };
  const holder = createTicketHolder({ issuer: options.issuer, key: ticketKey, fetch: learningFetch(fetchFn as FetchLike<ResponseLike>, clocks), clocks });
  const stamper = ticketKid(members).then((kid) =>
    createRequestStamper({ key: { key: privateKey as CryptoKey, kid, alg: ticketKey.alg }, bodyDigest: options.bodyDigest, now: options.now }),
  );
  // never unhandled: a failure (none is expected after the checks above) reaches each call that awaits it
  stamper.catch(() => undefined);
  return { holder, stamper, bodyDigest: options.bodyDigest === true };
}

/**
 * A fetch that puts a fresh `Client-IP-Attestation` on every call, bound to the method, the
 * URL and (with `bodyDigest`) the body. The caller's `init` and headers are copied, never
 * changed. When a refreshable source (echo, socket) meets a 403 `ip-mismatch`, the cached
 * address is dropped and the request is sent once more with a new one — if its body can be
 * sent again and a new address can be learned; otherwise the 403 is returned (and the next call
 * uses, or tries again to learn, the fresh address).
 * Likewise on a 401 `expired` or `not-yet-valid` whose `Date` shows the server's clock apart
 * from ours (within `maxClockCorrectionMs`): the stamp is signed again with the server's time.
 * Each request is sent at most twice. Fetch itself never follows a redirect (a stamp names one
 * method and URL): with `redirect: 'follow'` (the default) the SDK follows it as fetch would,
 * each hop a request of its own with a fresh stamp for its URL, signed and corrected for its own
 * origin; `'error'` and `'manual'` are passed to fetch as they are.
 */
export function createStampedFetch<R extends ResponseLike = Response>(options: StampedFetchOptions<R>): StampedFetch<R> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, STAMPED_FETCH_OPTION_NAMES);
  checkEchoOnlyOptions(options);
  const fetchFn = resolveFetch<R>('fetch', options.fetch);
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  const clocks = createServerClocks({ now: options.now, maxCorrectionMs: options.maxClockCorrectionMs });
  if (options.ip === 'ticket') return ticketFetch(options, fetchFn, clocks);
  const addresses = resolveAddressOption(options.ip, {
    echoUrl: options.echoUrl,
    echoTtlMs: options.echoTtlMs,
    fetch: learningFetch(fetchFn, clocks),
    now: options.now,
  });
  const stamper = createRequestStamper({ key: options.key as StampKeyInput, bodyDigest: options.bodyDigest, now: options.now });

  const sendHop = async (hop: Hop, mode: RedirectMode): Promise<R> => {
    const source = addresses.sourceFor(hop.url.origin);
    const stamp = async (): Promise<{ token: string; correction: number }> => {
      const signed = { correction: 0 };
      const now = signingClock(clocks, hop.url.origin, signed);
      const token = await stamper.stamp(source, { method: hop.method, url: signedUrl(hop.url), body: hop.body.bytes, now });
      return { token, ...signed };
    };
    const send = (stamped: { token: string; correction: number }): Promise<SentRequest<R>> =>
      sendTimed(clocks, stamped, () => fetchFn(hop.input, stampedInit(hop, { [STAMP_HEADER]: stamped.token }, mode)));
    const again = (refused: R): Promise<R> => retried(refused, hop.body.replayable, stamp, send);

    const first = await send(await stamp());
    if (await clockCorrected(clocks, hop.url.origin, first)) return again(first.response);
    if (typeof source.invalidate !== 'function' || !(await isIpMismatchResponse(first.response))) return first.response;
    source.invalidate(stampedAddress(first.token));
    return again(first.response);
  };

  return async function stampedFetch(input: string | URL | Request, init?: RequestInit): Promise<R> {
    const hop = await firstHop(input, init, stamper.bodyDigest);
    const mode = redirectMode(init, hop.request);
    return fetchFollowing(hop, mode, stamper.bodyDigest, (next) => sendHop(next, mode));
  };
}

/** A ticket-bound stamp made for one attempt, with the ticket it goes with. */
interface TicketStamp {
  token: string;
  correction: number;
  ticket: string;
}

/** `ip: 'ticket'`: every request carries the ticket and a stamp bound to it; on `bad-ticket`, one new ticket and one retry. */
function ticketFetch<R extends ResponseLike>(options: TicketFetchOptions<R>, fetchFn: FetchLike<R>, clocks: ServerClocks): StampedFetch<R> {
  const { holder, stamper, bodyDigest } = ticketMode(options, fetchFn, clocks);
  const sendHop = async (hop: Hop, mode: RedirectMode, requestStamper: RequestStamper): Promise<R> => {
    const stamp = async (held: HeldTicket): Promise<TicketStamp> => {
      const claims = { ip: held.ip, obs: 'ticket' as const, tth: held.tth };
      const signed = { correction: 0 };
      const now = signingClock(clocks, hop.url.origin, signed);
      const token = await requestStamper.stamp(staticAddress(held.ip), { method: hop.method, url: signedUrl(hop.url), body: hop.body.bytes, claims, now });
      return { token, ...signed, ticket: held.ticket };
    };
    const send = ({ token, correction, ticket }: TicketStamp): Promise<SentRequest<R>> => {
      const headers = { [STAMP_HEADER]: token, [TICKET_HEADER]: ticket };
      return sendTimed(clocks, { token, correction }, () => fetchFn(hop.input, stampedInit(hop, headers, mode)));
    };
    const again = (refused: R, ticket: () => Promise<HeldTicket>): Promise<R> => retried(refused, hop.body.replayable, async () => stamp(await ticket()), send);

    const held = await holder.get();
    const first = await send(await stamp(held));
    if (await clockCorrected(clocks, hop.url.origin, first)) return again(first.response, async () => held);
    if (!(await isBadTicketResponse(first.response))) return first.response;
    holder.invalidate(held.ticket);
    return again(first.response, () => holder.get());
  };

  return async function ticketStampedFetch(input: string | URL | Request, init?: RequestInit): Promise<R> {
    const hop = await firstHop(input, init, bodyDigest);
    const mode = redirectMode(init, hop.request);
    const requestStamper = await stamper;
    return fetchFollowing(hop, mode, bodyDigest, (next) => sendHop(next, mode, requestStamper));
  };
}
