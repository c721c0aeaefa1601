import { TICKET_HEADER } from '../../../shared/index.js';
import type { Attack, AttackContext, AttackPlan, Expectation, ExpectedReason, HttpOptions, TicketRequestCost, TicketTools } from './types.js';

/** What every ticket attack shares: the `ticket` tag, and a skip when there is no issuer to ask. */

const NO_ISSUER = 'the target issues no tickets (no /.well-known/ipstamp/issuer-jwks) and no issuer was named (--issuer URL)';

export interface TicketAttackSpec {
  readonly name: string;
  readonly description: string;
  readonly expect: Expectation;
  readonly tags?: readonly string[];
  /** What it asks of the issuer's ticket endpoint, budgeted against its rate limit: say it, even when it is only the held ticket. */
  readonly ticketRequests: TicketRequestCost;
  build(ctx: AttackContext, tickets: TicketTools): AttackPlan | Promise<AttackPlan>;
}

export const ticketAttack = (spec: TicketAttackSpec): Attack => ({
  name: spec.name,
  description: spec.description,
  expect: spec.expect,
  tags: ['ticket', ...(spec.tags ?? [])],
  ticketRequests: spec.ticketRequests,
  build: (ctx) => (ctx.tickets ? spec.build(ctx, ctx.tickets) : { skip: NO_ISSUER }),
});

/** Costs, named: the held ticket only; `n` requests of the attack's own. */
export const HELD: TicketRequestCost = { held: true };
export const own = (n: number): TicketRequestCost => ({ more: n });

export const reject = (reason: Exclude<ExpectedReason, 'closed'>): Expectation => ({ reject: true, reason });

/** A request to the target carrying `ticket` beside `stamp`. */
export const withTicket = (ctx: AttackContext, stamp: string | undefined, ticket: string | readonly string[], options: HttpOptions = {}) =>
  ctx.http(stamp, { ...options, headers: { ...options.headers, [TICKET_HEADER]: ticket } });

/** Every forwarding header a verifier may be configured to read, all naming `value`. */
export const forwardingHeaders = (value: string): Record<string, string> => ({
  'x-forwarded-for': value,
  forwarded: value.includes(':') ? `for="[${value}]"` : `for=${value}`,
  'x-real-ip': value,
});
