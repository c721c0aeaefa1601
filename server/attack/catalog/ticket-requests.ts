import { normalizeHtu, STAMP_TYP } from '../../../shared/index.js';
import type { Attack } from './types.js';
import { forwardingHeaders, own, reject, ticketAttack } from './ticket-attack.js';

const NO_PROXY_ADDRESS =
  "needs a local address the issuer trusts as a proxy (--proxy-address ADDR): only a trusted hop can leave the issuer's observed address undefined";

/** §7.1: the issuer checks the proof like a stamp, and signs only what it observed itself. */
export const ticketRequestAttacks: readonly Attack[] = [
  ticketAttack({
    name: 'ticket-request-hmac',
    ticketRequests: own(1),
    description: 'A ticket request whose proof is HMAC (HS256), keyed with the public JWK it carries.',
    expect: reject('bad-header'),
    build: (_ctx, t) => t.request(t.proof({ header: { alg: 'HS256' }, secret: JSON.stringify(t.key().publicJwk) })),
  }),
  ticketAttack({
    name: 'ticket-request-no-jwk',
    ticketRequests: own(1),
    description: 'A ticket request whose proof names its key by kid instead of carrying it as jwk.',
    expect: reject('bad-header'),
    build: (_ctx, t) => t.request(t.proof({ header: { jwk: undefined, kid: t.key().kid } })),
  }),
  ticketAttack({
    name: 'ticket-request-stamp-typ',
    ticketRequests: own(1),
    description: 'A ticket request whose proof is typed as a stamp (ipstamp+jwt), not a ticket request.',
    expect: reject('bad-header'),
    build: (_ctx, t) => t.request(t.proof({ header: { typ: STAMP_TYP } })),
  }),
  ticketAttack({
    name: 'ticket-request-key-not-signer',
    ticketRequests: own(1),
    description: "A ticket request carrying another key's jwk, signed with the harness's own: a ticket for a key one does not hold.",
    expect: reject('bad-signature'),
    build: (_ctx, t) => t.request(t.proof({ header: { jwk: t.key('other').publicJwk } })),
  }),
  ticketAttack({
    name: 'ticket-request-other-path',
    ticketRequests: own(1),
    description: 'A ticket request whose proof is bound to another URL on the issuer.',
    expect: reject('binding-mismatch'),
    build: (_ctx, t) => t.request(t.proof({ claims: { htu: normalizeHtu(new URL('/ipstamp-attack/other-path', t.endpoint)) } })),
  }),
  ticketAttack({
    name: 'ticket-request-replay',
    ticketRequests: own(2),
    description: 'The same ticket-request proof sent twice: proofs are single use too.',
    expect: reject('replay'),
    build: (_ctx, t) => {
      const proof = t.proof();
      return [t.request(proof, { setup: true }), t.request(proof)];
    },
  }),
  ticketAttack({
    name: 'ticket-request-from-trusted-hop',
    ticketRequests: { more: (t) => (t.proxyAddress ? 1 : 0) },
    description: 'A ticket request from an address the issuer trusts as a proxy, naming no client: the issuer cannot observe one.',
    expect: reject('ip-unverifiable'),
    tags: ['ip'],
    build: (_ctx, t) => (t.proxyAddress ? t.request(t.proof(), { localAddress: t.proxyAddress }) : { skip: NO_PROXY_ADDRESS }),
  }),
  ticketAttack({
    name: 'ticket-request-unknown-forwarded',
    ticketRequests: { more: (t) => (t.proxyAddress ? 1 : 0) },
    description: 'A ticket request from a trusted proxy address whose forwarding headers name "unknown": the walk stops, nothing observed.',
    expect: reject('ip-unverifiable'),
    tags: ['ip'],
    build: (_ctx, t) =>
      t.proxyAddress ? t.request(t.proof(), { localAddress: t.proxyAddress, headers: forwardingHeaders('unknown') }) : { skip: NO_PROXY_ADDRESS },
  }),
];
