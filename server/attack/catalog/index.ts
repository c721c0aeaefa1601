import type { Attack } from './types.js';
import { bindingAttacks } from './binding.js';
import { claimAttacks } from './claims.js';
import { controls } from './controls.js';
import { envelopeAttacks } from './envelope.js';
import { joseHeaderAttacks } from './jose-header.js';
import { networkAttacks } from './network.js';
import { replays } from './replay.js';
import { ticketAttacks } from './tickets.js';

/** Every built-in attack, controls first: in §5 order as far as one can be. */
export const ATTACK_CATALOG: readonly Attack[] = [
  ...controls,
  ...envelopeAttacks,
  ...joseHeaderAttacks,
  ...claimAttacks,
  ...bindingAttacks,
  ...replays,
  ...networkAttacks,
];

/**
 * The ticket attacks (PROTOCOL.md §7, tagged `ticket`): run after the catalog when the target
 * issues tickets or an issuer is named, and alone when no client key is given.
 */
export const TICKET_ATTACK_CATALOG: readonly Attack[] = ticketAttacks;
