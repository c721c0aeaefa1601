import { BlockList } from 'node:net';
import { compileTrustRanges, type TrustMatcher } from './trust-ranges.js';

export { TRUST_PRESETS, type TrustMatcher } from './trust-ranges.js';

/**
 * Compiles CIDRs and presets once into node:net's `BlockList` (trust-ranges.ts holds the
 * rules). Throws TypeError naming `option` for anything it cannot read.
 */
export function compileTrust(spec: string | readonly string[] | undefined, option = 'trustedProxies'): TrustMatcher {
  return compileTrustRanges(spec, option, () => new BlockList());
}
