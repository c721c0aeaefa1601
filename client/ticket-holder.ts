import { canonicalAddress } from '../shared/address.js';
import { decodeBase64urlText } from '../shared/base64url.js';
import { parseStrictJsonObject } from '../shared/strict-json.js';
import { MAX_TICKET_BYTES, TICKET_PATH, TICKET_TYP } from '../shared/constants.js';
import { publicJwkOf, type PublicJwk } from '../shared/public-jwk.js';
import type { TicketResponse } from '../shared/ticket-schema.js';
import { sha256Base64url } from './body-digest.js';
import { readBoundedText } from './bounded-body.js';
import { IpStampClientError } from './client-error.js';
import { bodyStream, type FetchLike, type ResponseLike } from './fetch-like.js';
import { parseHttpDate, type ServerClocks } from './server-clock.js';
import { createTicketRequestProof, type TicketKey } from './ticket-proof.js';

/**
 * A ticket is a JWS compact serialization (PROTOCOL.md §7.2): visible ASCII. Other text (a CR LF,
 * a character past Latin-1, a space fetch would trim) cannot go out as the header it was hashed
 * for (`tth`): held, it would fail every call until its `exp`, with no `bad-ticket` to drop it.
 */
const TICKET_TEXT = /^[\x21-\x7e]+$/;

/** The issuer's 200 body (PROTOCOL.md §7.1), checked without zod so browsers do not load it. */
function ticketResponseOf(body: Record<string, unknown>): TicketResponse | undefined {
  const { ticket, ip, exp } = body;
  if (typeof ticket !== 'string' || ticket.length > MAX_TICKET_BYTES || !TICKET_TEXT.test(ticket) || typeof ip !== 'string') return undefined;
  if (typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp < 0) return undefined;
  return { ticket, ip, exp };
}

/** What in a ticket answer does not hold: the form of a ticket, or what its claims say against the body or the key. */
type TicketMismatch = 'form' | 'ip' | 'exp' | 'key';

function jsonSegment(segment: string | undefined): Record<string, unknown> | undefined {
  const text = segment === undefined ? undefined : decodeBase64urlText(segment);
  return text === undefined ? undefined : parseStrictJsonObject(text);
}

/**
 * Reads the ticket the issuer handed over, without its signature (the client has no issuer key
 * and the verifier checks it): a JWS of type ticket whose `ip` and `exp` are the body's and whose
 * `cnf.jwk` is this client's key (PROTOCOL.md §7.2). An issuer that answers otherwise — a bug, or
 * a man in the middle of a plain-http issuer — would have the client hold a ticket every verifier
 * refuses as `unknown-key` or `binding-mismatch` until the ticket's own `exp`; only `bad-ticket`
 * drops a held ticket. Refused here, the next call asks again.
 */
function ticketMismatch(answer: TicketResponse, clientKey: PublicJwk): TicketMismatch | undefined {
  const parts = answer.ticket.split('.');
  const header = parts.length === 3 ? jsonSegment(parts[0]) : undefined;
  const claims = header?.typ === TICKET_TYP ? jsonSegment(parts[1]) : undefined;
  if (!claims) return 'form';
  if (claims.ip !== answer.ip) return 'ip';
  if (claims.exp !== answer.exp) return 'exp';
  const cnf = claims.cnf;
  const jwk = typeof cnf === 'object' && cnf !== null && 'jwk' in cnf && typeof cnf.jwk === 'object' && cnf.jwk !== null ? publicJwkOf(cnf.jwk) : undefined;
  const own = publicJwkOf(clientKey);
  return jwk && own && JSON.stringify(jwk) === JSON.stringify(own) ? undefined : 'key';
}

/** A ticket in hand, with what a stamp needs from it (PROTOCOL.md §7.3). */
export interface HeldTicket {
  readonly ticket: string;
  readonly ip: string;
  readonly exp: number;
  /** base64url SHA-256 of the ticket text: the stamp's `tth`. */
  readonly tth: string;
}

export interface TicketHolderOptions {
  /** The issuer's origin (`https://edge.example.com`) or its ticket endpoint URL. */
  issuer: string | URL;
  key: TicketKey;
  fetch: FetchLike<ResponseLike>;
  now?: () => number;
  /** The stamped fetch's clocks: proofs are signed at the issuer's time, and a proof refused for its time is signed again once. */
  clocks?: ServerClocks;
  /** Give up on a ticket request (its answer and its body) after this long. Default 10 s, as the echo request. */
  timeoutMs?: number;
}

export interface TicketHolder {
  /** The current ticket, asking the issuer when there is none or it is about to expire. */
  get(): Promise<HeldTicket>;
  /** Drops `ticket` if it is still the one held (after a verifier answered `bad-ticket`). */
  invalidate(ticket: string): void;
}

/**
 * Renew this long before `exp`, so a stamp never leaves with a ticket that expires in flight; a
 * ticket that lives less than twice as long is renewed halfway through its life instead. An
 * issuer may hand out tickets of a few seconds (`lifetime` from 1 s), and renewing those 30 s
 * early meant asking for a new one before every stamp, until its rate limit refused them.
 */
const RENEW_BEFORE_S = 30;

/** When (s, the issuer's clock where known) a ticket received at `receivedAt` is renewed. */
function renewalTime(exp: number, receivedAt: number): number {
  return exp - Math.min(RENEW_BEFORE_S, Math.max(0, exp - receivedAt) / 2);
}
const MAX_RESPONSE_BYTES = MAX_TICKET_BYTES + 1024;
/** An issuer that does not answer, or whose body never ends, would hold every stamped call for ever. */
export const DEFAULT_TICKET_TIMEOUT_MS = 10_000;

/** The ticket endpoint an issuer names: its origin (→ `/.well-known/ipstamp/ticket`) or the endpoint's own URL. */
export function ticketEndpoint(issuer: string | URL): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError('issuer must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('issuer must be an absolute http(s) URL');
  return url.pathname === '/' ? new URL(TICKET_PATH, url) : url;
}

/** Asks for a ticket with a fresh proof, caches it until shortly before `exp`; concurrent callers share one request. */
export function createTicketHolder(options: TicketHolderOptions): TicketHolder {
  const endpoint = ticketEndpoint(options.issuer);
  const { clocks } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TICKET_TIMEOUT_MS;
  const now = clocks === undefined ? (options.now ?? Date.now) : () => clocks.now(endpoint.origin);
  let held: HeldTicket | undefined;
  let renewAt = 0;
  let inflight: Promise<HeldTicket> | undefined;

  async function request(retried = false): Promise<HeldTicket> {
    let response: ResponseLike;
    let sentAt = 0;
    try {
      const proof = await createTicketRequestProof(options.key, endpoint, now);
      sentAt = clocks?.local() ?? 0;
      response = await options.fetch(endpoint.href, {
        method: 'POST',
        headers: { 'client-ip-attestation': proof },
        redirect: 'error',
        // the deadline covers the body too: fetch errors its stream when the signal aborts
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new IpStampClientError('ERR_IPSTAMP_TICKET_FAILED', { cause });
    }
    const text = await readBoundedText(bodyStream(response), MAX_RESPONSE_BYTES).catch(() => undefined);
    const body = response.status === 200 && text !== undefined ? parseStrictJsonObject(text) : undefined;
    const parsed = body && ticketResponseOf(body);
    if (!parsed || canonicalAddress(parsed.ip) !== parsed.ip) {
      // the issuer's problem+json reason (e.g. ip-unverifiable) travels as the cause
      const reason = body?.reason ?? (text ? parseStrictJsonObject(text)?.reason : undefined);
      const clockRefused = response.status === 401 && (reason === 'expired' || reason === 'not-yet-valid');
      // a proof refused for its time: once more at the issuer's time, if its Date says something new
      if (clockRefused && !retried && clocks?.learn(endpoint.origin, parseHttpDate(response.headers.get('date')), sentAt, clocks.local())) {
        return request(true);
      }
      throw new IpStampClientError('ERR_IPSTAMP_TICKET_FAILED', { cause: { status: response.status, reason } });
    }
    const mismatch = ticketMismatch(parsed, options.key.publicJwk);
    if (mismatch) throw new IpStampClientError('ERR_IPSTAMP_TICKET_FAILED', { cause: { status: response.status, reason: undefined, mismatch } });
    const { ticket, ip, exp } = parsed;
    return { ticket, ip, exp, tth: await sha256Base64url(new TextEncoder().encode(ticket)) };
  }

  return {
    get() {
      if (held && now() / 1000 < renewAt) return Promise.resolve(held);
      inflight ??= request().then(
        (ticket) => {
          inflight = undefined;
          held = ticket;
          renewAt = renewalTime(ticket.exp, now() / 1000);
          return ticket;
        },
        (error: unknown) => {
          inflight = undefined;
          throw error;
        },
      );
      return inflight;
    },
    invalidate(ticket) {
      if (held?.ticket === ticket) held = undefined;
    },
  };
}
