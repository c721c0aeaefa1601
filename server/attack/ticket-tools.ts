import { createHash, createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { randomJti } from '../../client/index.js';
import { canonicalAddress, normalizeHtu, STAMP_HEADER, STAMP_TYP } from '../../shared/index.js';
import { decodeSegment, signCompact, ticketHash, TICKET_WIRE } from './catalog/forge.js';
import type { IssuedTicket, TicketProofOptions, TicketSigner, TicketSigningKey, TicketTools } from './catalog/types.js';
import { routeOf } from './context.js';
import { generateTicketKey } from './keys.js';
import type { TicketBudget } from './ticket-budget.js';
import { describeOutcome, outcomeOfError, readBoundedText, responseOutcome } from './transport.js';

/** The ticket tools a run makes; it closes them when it ends. */
export interface RunTicketTools extends TicketTools {
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
  /** The issuer's rate limit as the run learns it: every request to the endpoint is counted against it. */
  readonly budget: TicketBudget;
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
  if (typeof ticket !== 'string' || ticket.length > TICKET_WIRE.maxTicketBytes || ticket.split('.').length !== 3) return undefined;
  if (typeof ip !== 'string' || canonicalAddress(ip) !== ip || !Number.isSafeInteger(exp)) return undefined;
  const { iss } = decodeSegment(ticket, 1);
  const { kid } = decodeSegment(ticket, 0);
  return { ticket, ip, exp: exp as number, tth: ticketHash(ticket), iss: String(iss), issuerKid: String(kid) };
}

export function createTicketTools(options: TicketToolsOptions): RunTicketTools {
  const { endpoint, target, budget } = options;
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
  let held: Promise<IssuedTicket> | undefined;
  let heldExp = 0;
  let heldReady = false;

  const hmac = (alg: string, secret: string | Uint8Array) => (input: string) =>
    createHmac(`sha${alg.slice(2)}`, secret)
      .update(input)
      .digest();

  function proof(opts: TicketProofOptions = {}): string {
    const key = keys[opts.signer ?? 'holder'];
    const header = { alg: key.alg, typ: TICKET_WIRE.requestTyp, jwk: key.publicJwk, ...opts.header };
    const claims = { iat: now(), jti: randomJti(), htm: 'POST', htu: normalizeHtu(endpoint), ...opts.claims };
    return signCompact(header, claims, opts.secret === undefined ? key.signInput : hmac(String(header.alg), opts.secret));
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
      return signCompact(header, claims, opts.secret === undefined ? key.signInput : hmac(header.alg, opts.secret));
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
      return signCompact({ alg: forger.alg, typ: TICKET_WIRE.ticketTyp, kid: 'ipstamp-attack-issuer', ...header }, claims, forger.signInput);
    },
    close: () => agent.close(),
  };
}
