import { createHash, createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { canonicalAddress } from '../../shared/address.js';
import { normalizeHtu } from '../../shared/htu.js';
import { STAMP_HEADER, STAMP_TYP } from '../../shared/schema.js';
import { MAX_TICKET_BYTES, TICKET_REQUEST_TYP, TICKET_TYP } from '../../shared/ticket-schema.js';
import { randomJti } from '../../client/stamper.js';
import { routeOf } from './context.js';
import { describeOutcome } from './judge.js';
import { outcomeOfError, readBoundedText, responseOutcome } from './response-reading.js';
import { TicketBudget } from './ticket-budget.js';
import { decodeSegment, generateTicketKey, segment, ticketHash, type TicketSigningKey } from './ticket-keys.js';
import type { HttpAttackRequest } from './types.js';

/** The harness's ticket keys: `holder` and `other` are ES256 (two keys, one kind), `eddsa` the other kind. */
export type TicketSigner = 'holder' | 'other' | 'eddsa';

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
  /** The issuer's rate limit as it stated it, and the requests the run sent to the endpoint. */
  readonly budget: TicketBudget;
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
  close(): Promise<void>;
}

export interface TicketToolsOptions {
  readonly endpoint: URL;
  readonly target: URL;
  readonly timeoutMs: number;
  readonly localAddress?: string;
  readonly ca?: string | Buffer;
  readonly proxyAddress?: string;
  readonly skew: number;
  readonly maxWaitMs: number;
  /** The route's method, when the run fixed one: ticket-bound stamps are made for it (and its body). */
  readonly method?: string;
}

/** The issuer's 200 body (§7.1), or undefined: the ticket is a bounded JWS, the ip canonical. */
export function issuedTicketOf(text: string): IssuedTicket | undefined {
  let body: { ticket?: unknown; ip?: unknown; exp?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return undefined;
  }
  const { ticket, ip, exp } = body ?? {};
  if (typeof ticket !== 'string' || ticket.length > MAX_TICKET_BYTES || ticket.split('.').length !== 3) return undefined;
  if (typeof ip !== 'string' || canonicalAddress(ip) !== ip || !Number.isSafeInteger(exp)) return undefined;
  const { iss } = decodeSegment(ticket, 1);
  const { kid } = decodeSegment(ticket, 0);
  return { ticket, ip, exp: exp as number, tth: ticketHash(ticket), iss: String(iss), issuerKid: String(kid) };
}

export function createTicketTools(options: TicketToolsOptions): TicketTools {
  const { endpoint, target } = options;
  const keys: Record<TicketSigner, TicketSigningKey> = {
    holder: generateTicketKey('ES256'),
    other: generateTicketKey('ES256'),
    eddsa: generateTicketKey('EdDSA'),
  };
  const forger = generateTicketKey('ES256');
  const agent = new Agent({
    connect: { timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const now = (): number => Math.floor(Date.now() / 1000);
  const route = routeOf(options.method);
  const budget = new TicketBudget();
  let held: Promise<IssuedTicket> | undefined;
  let heldExp = 0;
  let heldReady = false;

  const signed = (header: Readonly<Record<string, unknown>>, payload: Readonly<Record<string, unknown>>, signer: (input: string) => Buffer): string => {
    const input = `${segment(header)}.${segment(payload)}`;
    return `${input}.${signer(input).toString('base64url')}`;
  };
  const hmac = (alg: string, secret: string | Uint8Array) => (input: string) => createHmac(`sha${alg.slice(2)}`, secret).update(input).digest();

  function proof(opts: TicketProofOptions = {}): string {
    const key = keys[opts.signer ?? 'holder'];
    const header = { alg: key.alg, typ: TICKET_REQUEST_TYP, jwk: key.publicJwk, ...opts.header };
    const claims = { iat: now(), jti: randomJti(), htm: 'POST', htu: normalizeHtu(endpoint), ...opts.claims };
    return signed(header, claims, opts.secret === undefined ? key.signInput : hmac(String(header.alg), opts.secret));
  }

  async function fresh(opts: { signer?: TicketSigner; headers?: Readonly<Record<string, string>> } = {}): Promise<IssuedTicket> {
    if (!budget.take()) throw new Error(`not sent: the issuer's rate limit has no request left (${budget.describe()})`);
    let status: number;
    let text: string;
    try {
      const res = await request(endpoint, {
        method: 'POST',
        headers: { ...opts.headers, [STAMP_HEADER]: proof({ signer: opts.signer }) },
        dispatcher: agent,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      status = res.statusCode;
      budget.observe(status, res.headers);
      text = await readBoundedText(res.body);
    } catch (error) {
      throw new Error(`the issuer could not be asked for a ticket: ${describeOutcome(outcomeOfError(error), options.timeoutMs)}`);
    }
    const issued = status === 200 ? issuedTicketOf(text) : undefined;
    if (issued) return issued;
    const why = status === 429 ? ` (its rate limit: ${budget.describe()})` : '';
    throw new Error(`the issuer gave no ticket: ${describeOutcome(responseOutcome(status, text), options.timeoutMs)}${why}`);
  }

  return {
    endpoint,
    proxyAddress: options.proxyAddress,
    skew: options.skew,
    maxWaitMs: options.maxWaitMs,
    budget,
    key: (signer = 'holder') => keys[signer],
    holding: () => heldReady && now() < heldExp - 1,
    held() {
      // a ticket is for every request of its lifetime: asking once per attack would meet the issuer's rate limit
      if (held === undefined || now() >= heldExp - 1) {
        heldReady = false;
        const asked = fresh().then((ticket) => ((heldExp = ticket.exp), (heldReady = true), ticket));
        held = asked;
        asked.catch(() => {
          if (held === asked) held = undefined; // the next attack asks again
        });
      }
      return held;
    },
    fresh,
    stamp(ticket, opts = {}) {
      const key = keys[opts.signer ?? 'holder'];
      const header = { alg: opts.signAs ?? key.alg, typ: STAMP_TYP, kid: opts.kid ?? key.kid };
      // the route's own request: its method, and its body's digest when it has one
      const body = opts.method === undefined ? route.body : undefined;
      const claims = {
        ip: ticket.ip,
        iat: now(),
        jti: randomJti(),
        htm: (opts.method ?? route.method).toUpperCase(),
        htu: normalizeHtu(opts.url ?? target),
        obs: 'ticket',
        tth: ticketHash(ticket.ticket),
        ...(body === undefined ? {} : { cdg: createHash('sha256').update(body).digest('base64url') }),
        ...opts.claims,
      };
      return signed(header, claims, opts.secret === undefined ? key.signInput : hmac(header.alg, opts.secret));
    },
    proof,
    request(proofToken, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (proofToken !== undefined) headers[STAMP_HEADER] = proofToken;
      return {
        kind: 'http',
        method: 'POST',
        url: endpoint.href,
        headers,
        ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
        ...(opts.setup ? { setup: true } : {}),
      };
    },
    forgeTicket(claims, header = {}) {
      return signed({ alg: forger.alg, typ: TICKET_TYP, kid: 'ipstamp-attack-issuer', ...header }, claims, forger.signInput);
    },
    close: () => agent.close(),
  };
}
