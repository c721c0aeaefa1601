import { randomJti } from '../../../client/index.js';
import { decodeSegment, segment, spoofedAddressFor, TICKET_WIRE } from './forge.js';
import type { Attack, IssuedTicket, TicketTools } from './types.js';
import { forwardingHeaders, HELD, own, reject, ticketAttack, withTicket } from './ticket-attack.js';
import { ticketRequestAttacks } from './ticket-requests.js';

/**
 * PROTOCOL.md §7: tickets. The harness asks the issuer for tickets bound to keys it made
 * itself (a ticket needs no registration), then breaks one link at a time: the proof
 * (§7.1, in ticket-requests.ts), the issuer's signature (§7.2), the stamp's binding to
 * ticket and key (§7.3–7.4).
 */

/** The same ticket header and signature over changed claims: what a verifier that skips the issuer's signature takes. */
function alteredTicket(ticket: string, changes: Readonly<Record<string, unknown>>): string {
  const [header, , signature] = ticket.split('.');
  return `${header}.${segment({ ...decodeSegment(ticket, 1), ...changes })}.${signature}`;
}

/** Claims of a well-formed ticket for the holder key at the address the issuer saw, for forgeries. */
function ticketClaims(held: IssuedTicket, tickets: TicketTools, iss: string): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return { iss, ip: held.ip, iat, exp: iat + 300, jti: randomJti(), cnf: { jwk: tickets.key().publicJwk } };
}

const controls: readonly Attack[] = [
  ticketAttack({
    name: 'control-ticket',
    ticketRequests: HELD,
    description: "A ticket from the issuer for the harness's own ES256 key, and a fresh stamp bound to it: no key registered anywhere.",
    expect: { accept: true },
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held), held.ticket);
    },
  }),
  ticketAttack({
    name: 'control-ticket-eddsa',
    ticketRequests: own(1),
    description: 'The same with an Ed25519 key (alg EdDSA).',
    expect: { accept: true },
    build: async (ctx, t) => {
      const held = await t.fresh({ signer: 'eddsa' });
      return withTicket(ctx, t.stamp(held, { signer: 'eddsa' }), held.ticket);
    },
  }),
];

/** §7.2–7.4: the ticket itself, and the stamp's binding to it. */
const ticketUseAttacks: readonly Attack[] = [
  ticketAttack({
    name: 'ticket-spoofed-forwarding-at-issuer',
    ticketRequests: own(1),
    description: 'A ticket asked for with self-written X-Forwarded-For/Forwarded/X-Real-IP naming another address, then a stamp claiming that address.',
    expect: reject('binding-mismatch'),
    tags: ['ip'],
    build: async (ctx, t) => {
      const spoofed = spoofedAddressFor(ctx.ip);
      const held = await t.fresh({ headers: forwardingHeaders(spoofed) });
      return withTicket(ctx, t.stamp(held, { claims: { ip: spoofed } }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-other-key',
    ticketRequests: HELD,
    description: "Someone else's ticket with a stamp signed by the harness's other key, kid = that key's thumbprint.",
    expect: reject('unknown-key'),
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held, { signer: 'other' }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-stolen',
    ticketRequests: HELD,
    description: "A stolen ticket with a stamp from another key claiming the ticket key's kid.",
    expect: reject('bad-signature'),
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held, { signer: 'other', kid: t.key().kid }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-hmac-public-key',
    ticketRequests: HELD,
    description: "A ticket with a stamp HMAC-signed (HS256) with the ticket's public key as the secret: it is in the ticket for all to read.",
    expect: reject('bad-signature'),
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held, { signAs: 'HS256', secret: JSON.stringify(t.key().publicJwk) }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-altered-ip',
    ticketRequests: HELD,
    description: "A real ticket whose ip claim was changed (issuer's signature kept), with a stamp for that address bound to the altered text.",
    expect: reject('bad-ticket'),
    tags: ['ip'],
    build: async (ctx, t) => {
      const held = await t.held();
      const spoofed = spoofedAddressFor(held.ip);
      const altered = alteredTicket(held.ticket, { ip: spoofed });
      return withTicket(ctx, t.stamp({ ticket: altered, ip: spoofed }), altered);
    },
  }),
  ticketAttack({
    name: 'ticket-rebound-key',
    ticketRequests: HELD,
    description: "A real ticket whose cnf.jwk was swapped for the attacker's key (issuer's signature kept), with a stamp from that key.",
    expect: reject('bad-ticket'),
    build: async (ctx, t) => {
      const held = await t.held();
      const altered = alteredTicket(held.ticket, { cnf: { jwk: t.key('other').publicJwk } });
      return withTicket(ctx, t.stamp({ ticket: altered, ip: held.ip }, { signer: 'other' }), altered);
    },
  }),
  ticketAttack({
    name: 'ticket-unknown-issuer',
    ticketRequests: HELD,
    description: 'A ticket from an issuer the target was never told to trust (the harness signed it as https://issuer.attacker.example).',
    expect: reject('bad-ticket'),
    build: async (ctx, t) => {
      const held = await t.held();
      const forged = t.forgeTicket(ticketClaims(held, t, 'https://issuer.attacker.example'));
      return withTicket(ctx, t.stamp({ ticket: forged, ip: held.ip }), forged);
    },
  }),
  ticketAttack({
    name: 'ticket-issuer-impersonated',
    ticketRequests: HELD,
    description: "A ticket naming the real issuer (its iss and kid) but signed with the harness's own issuer key.",
    expect: reject('bad-ticket'),
    build: async (ctx, t) => {
      const held = await t.held();
      const forged = t.forgeTicket(ticketClaims(held, t, held.iss), { kid: held.issuerKid });
      return withTicket(ctx, t.stamp({ ticket: forged, ip: held.ip }), forged);
    },
  }),
  ticketAttack({
    name: 'ticket-alg-none',
    ticketRequests: HELD,
    description: 'A ticket naming the real issuer with alg none and no signature.',
    expect: reject('bad-ticket'),
    build: async (ctx, t) => {
      const held = await t.held();
      const forged = `${segment({ alg: 'none', typ: TICKET_WIRE.ticketTyp, kid: held.issuerKid })}.${segment(ticketClaims(held, t, held.iss))}.`;
      return withTicket(ctx, t.stamp({ ticket: forged, ip: held.ip }), forged);
    },
  }),
  ticketAttack({
    name: 'ticket-ip-differs',
    ticketRequests: HELD,
    description: "A real ticket with a stamp claiming another address than the ticket's.",
    expect: reject('binding-mismatch'),
    tags: ['ip'],
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held, { claims: { ip: spoofedAddressFor(held.ip) } }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-no-tth',
    ticketRequests: HELD,
    description: 'A real ticket with a stamp that does not name it (no tth claim).',
    expect: reject('binding-mismatch'),
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held, { claims: { tth: undefined } }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-other-tth',
    ticketRequests: { held: true, more: 1 },
    description: 'A real ticket with a stamp bound to another ticket of the same key (tth of that one).',
    expect: reject('binding-mismatch'),
    build: async (ctx, t) => {
      const [held, other] = [await t.held(), await t.fresh()];
      return withTicket(ctx, t.stamp(held, { claims: { tth: other.tth } }), held.ticket);
    },
  }),
  ticketAttack({
    name: 'ticket-replay',
    ticketRequests: HELD,
    description: 'The same ticket and stamp sent twice: the ticket is reusable, the stamp is not.',
    expect: reject('replay'),
    build: async (ctx, t) => {
      const held = await t.held();
      const stamp = t.stamp(held);
      return [withTicket(ctx, stamp, held.ticket, { setup: true }), withTicket(ctx, stamp, held.ticket)];
    },
  }),
  ticketAttack({
    name: 'ticket-alone',
    ticketRequests: HELD,
    description: 'A real ticket and no stamp: the ticket is no credential without the key that signs stamps.',
    expect: reject('missing'),
    build: async (ctx, t) => withTicket(ctx, undefined, (await t.held()).ticket),
  }),
  ticketAttack({
    name: 'ticket-twice',
    ticketRequests: HELD,
    description: 'The Client-IP-Ticket header sent twice, with a stamp bound to it.',
    expect: reject('bad-ticket'),
    build: async (ctx, t) => {
      const held = await t.held();
      return withTicket(ctx, t.stamp(held), [held.ticket, held.ticket]);
    },
  }),
  ticketAttack({
    name: 'ticket-as-stamp',
    ticketRequests: HELD,
    description: 'The ticket itself sent as the Client-IP-Attestation: a token of another type.',
    expect: reject('bad-header'),
    build: async (ctx, t) => ctx.http((await t.held()).ticket),
  }),
  ticketAttack({
    name: 'ticket-expired',
    ticketRequests: HELD,
    description: 'A real ticket used, with a fresh stamp, once its exp and the skew have passed (waits for it: only against short ticket lifetimes).',
    expect: reject('bad-ticket'),
    build: async (ctx, t) => {
      const held = await t.held();
      // the issuer cannot be made to sign a past ticket, and a forged one fails for its signature: wait it out
      const waitMs = (held.exp + t.skew) * 1000 + 250 - Date.now();
      if (waitMs > t.maxWaitMs) {
        return {
          skip: `the issuer's ticket stays acceptable ${Math.ceil(waitMs / 1000)} s more (its lifetime plus a skew of ${t.skew} s), longer than this run may wait (${Math.round(t.maxWaitMs / 1000)} s): run against an issuer with a short --ticket-lifetime, or raise --ticket-wait`,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
      return withTicket(ctx, t.stamp(held), held.ticket);
    },
  }),
];

/** The ticket attacks, controls first, the expiry attack (which waits) last. Run only when there is an issuer. */
export const ticketAttacks: readonly Attack[] = [...controls, ...ticketRequestAttacks, ...ticketUseAttacks];
