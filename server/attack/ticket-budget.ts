import type { Attack, AttackRequest, TicketTools } from './catalog/types.js';

/**
 * The issuer's rate limit on its ticket endpoint, as the run learns it and spends it, and
 * what each ticket attack costs of it. An issuer limits ticket requests per observed address
 * (the plugin: 30 a minute by default, TicketRateLimiter); a run that simply asks would meet
 * 429s and judge attacks on them. So the run reads what the limiter states on every answer —
 * `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` (seconds), `retry-after` on
 * a 429 — counts what it sends since, and sends nothing the issuer said it would refuse.
 */

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function headerNumber(headers: Headers, name: string): number | undefined {
  const raw = headers[name];
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (text === undefined || !/^\s*\d{1,9}\s*$/.test(text)) return undefined;
  return Number(text);
}

export class TicketBudget {
  readonly #now: () => number;
  #limit: number | undefined;
  #remaining: number | undefined;
  #resetAt: number | undefined;
  #sinceStated = 0;
  #sent = 0;
  #refused = false;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Requests per window, as the issuer last stated it; undefined when it states no limit. */
  get limit(): number | undefined {
    return this.#limit;
  }

  /** Requests the run sent to the ticket endpoint. */
  get sent(): number {
    return this.#sent;
  }

  /** Requests left: the issuer's last statement minus those sent since (a new window gives the whole limit back); undefined when it stated none. */
  left(): number | undefined {
    if (this.#remaining === undefined) return undefined;
    const renewed = this.#resetAt !== undefined && this.#now() >= this.#resetAt && this.#limit !== undefined;
    return Math.max(0, (renewed ? this.#limit! : this.#remaining) - this.#sinceStated);
  }

  /** Counts one request about to be sent; false, counting nothing, when the issuer would refuse it. */
  take(): boolean {
    if (this.left() === 0) return false;
    this.#sent += 1;
    this.#sinceStated += 1;
    return true;
  }

  /** What an answer of the ticket endpoint said about the limit (any status). */
  observe(status: number, headers: Headers): void {
    const limit = headerNumber(headers, 'x-ratelimit-limit');
    const remaining = headerNumber(headers, 'x-ratelimit-remaining');
    const reset = headerNumber(headers, 'retry-after') ?? headerNumber(headers, 'x-ratelimit-reset');
    if (limit !== undefined) this.#limit = limit;
    if (status === 429) {
      this.#refused = true;
      this.#remaining = 0;
    } else if (remaining !== undefined) {
      this.#remaining = remaining;
    } else {
      return;
    }
    this.#sinceStated = 0;
    this.#resetAt = reset === undefined ? undefined : this.#now() + reset * 1000;
  }

  /** The limit in words, for a report: `5 ticket requests per window from this address, none left; the window resets in 57 s`. */
  describe(): string {
    const left = this.left();
    const limit =
      this.#limit === undefined ? 'a limit it did not state' : `${this.#limit} ticket request${this.#limit === 1 ? '' : 's'} per window from this address`;
    const parts = [limit];
    if (left !== undefined) parts.push(left === 0 ? (this.#refused ? 'none left (it answered 429)' : 'none left') : `${left} left`);
    const wait = this.#resetAt === undefined ? undefined : Math.max(0, Math.ceil((this.#resetAt - this.#now()) / 1000));
    return `${parts.join(', ')}${wait === undefined ? '' : `; the window resets in ${wait} s`}`;
  }
}

/** An attack's own requests to the ticket endpoint (the held ticket aside). */
function ownTicketRequests(attack: Attack, tickets: TicketTools): number {
  const more = attack.ticketRequests?.more;
  return typeof more === 'function' ? more(tickets) : (more ?? 0);
}

/** Requests an attack sends to the ticket endpoint now: the held ticket unless it is at hand, and its own. */
export function ticketCost(attack: Attack, tickets: TicketTools): number {
  return (attack.ticketRequests?.held === true && !tickets.holding() ? 1 : 0) + ownTicketRequests(attack, tickets);
}

/** What the ticket attacks need of the endpoint in all: the held ticket once, and each one's own requests. */
export function plannedTicketRequests(attacks: readonly Attack[], tickets: TicketTools): number {
  const held = attacks.some((a) => a.ticketRequests?.held === true) ? 1 : 0;
  return held + attacks.reduce((sum, a) => sum + ownTicketRequests(a, tickets), 0);
}

/** The transport's gate: a request to the ticket endpoint that the issuer's limit has no room for is not sent (its 429 would prove nothing). */
export function ticketGate(endpoint: URL, budget: TicketBudget): (req: AttackRequest) => string | undefined {
  return (req) => {
    if (req.kind !== 'http') return undefined;
    const url = new URL(req.url);
    if (url.origin !== endpoint.origin || url.pathname !== endpoint.pathname || budget.take()) return undefined;
    return `not sent: the issuer's rate limit has no request left (${budget.describe()})`;
  };
}
