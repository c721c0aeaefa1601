import { hintAddress } from '../../shared/address.js';
import { observedIndex } from '../hints/observed.js';
import type { CompiledOptions } from './options.js';
import type { NetworkHints, VerifyInput } from './types.js';

// TEMPORARY: replaced by server/hints/forwarding-header.ts once the parsers land.
function readForwardingEntries(input: VerifyInput, headerName: string): (string | undefined)[] {
  const raw = input.headers[headerName];
  if (raw === undefined) return [];
  const values = typeof raw === 'string' ? [raw] : raw;
  return values.flatMap((v) => v.split(',')).map((e) => hintAddress(e.trim()));
}

/**
 * PROTOCOL.md §4: l4 counts only when the TCP peer is trusted, l7 only when the immediate
 * peer (l4, else l3) is; observed is the walk over `[...l7, l4?, l3]`.
 */
export function networkHints(input: VerifyInput, opts: CompiledOptions): NetworkHints {
  const l3 = input.hints.l3 === undefined ? undefined : hintAddress(input.hints.l3);
  const l3Trusted = l3 !== undefined && opts.trust.contains(l3);
  const l4 = l3Trusted && input.hints.l4 !== undefined ? hintAddress(input.hints.l4) : undefined;
  const peer = l4 ?? l3;
  const l7 = peer !== undefined && opts.trust.contains(peer) ? readForwardingEntries(input, opts.forwardedHeader) : [];
  const chain = l4 === undefined ? [...l7, l3] : [...l7, l4, l3];
  const at = observedIndex(chain, opts.trust);
  const observed = at === -1 ? undefined : chain[at];
  const decidedBy = at === -1 ? undefined : at < l7.length ? 'l7' : l4 !== undefined && at === l7.length ? 'l4' : 'l3';
  return {
    l3,
    l4,
    proxy: l3Trusted ? input.hints.proxy : undefined,
    l7: l7.map((a) => a ?? null),
    observed,
    decidedBy,
  };
}
