import { hintAddress } from '../../shared/address.js';
import { collectHints } from '../hints/collect.js';
import { headerInstances } from '../hints/forwarding-header.js';
import type { CompiledOptions } from './options.js';
import type { ConnectionHints, NetworkHints, VerifyInput } from './types.js';

/**
 * A hint the glue gave, never one inherited: `l4: '198.51.100.7'` written onto Object.prototype
 * by a bug elsewhere in the application would otherwise be every trusted peer's client.
 */
export const ownHint = <K extends keyof ConnectionHints>(hints: ConnectionHints, name: K): ConnectionHints[K] =>
  Object.hasOwn(hints, name) ? hints[name] : undefined;

/**
 * PROTOCOL.md §4 for one request: the hints parsers decide (l4 only from a trusted peer, the
 * configured forwarding header only from a trusted immediate peer, the observed walk); this
 * adds what the verdict carries besides — the PROXY summary, and `null` for invalid entries
 * so the hints serialize as JSON.
 */
export function networkHints(input: Pick<VerifyInput, 'headers' | 'hints'>, opts: CompiledOptions): NetworkHints {
  // The common case, answered without the general walk's arrays: a peer that is not one of
  // our proxies. Its PROXY header and forwarding header are never believed, so the chain is
  // the peer alone and the peer is the client — what collectHints answers too
  // (test/verify/network-hints.property.test.ts).
  const l3 = ownHint(input.hints, 'l3');
  const peer = typeof l3 === 'string' ? hintAddress(l3) : undefined;
  if (peer !== undefined && !opts.trust.contains(peer)) {
    return { l3: peer, l4: undefined, proxy: undefined, l7: [], observed: peer, decidedBy: 'l3' };
  }
  return walkedHints(input, opts);
}

/** The general path: every hint through collectHints (the fast path above must agree with it). */
export function walkedHints(input: Pick<VerifyInput, 'headers' | 'hints'>, opts: CompiledOptions): NetworkHints {
  const hints = collectHints({
    l3: ownHint(input.hints, 'l3'),
    l4: ownHint(input.hints, 'l4'),
    headerValues: headerInstances(input.headers as Record<string, string | string[] | undefined>, opts.forwardedHeader.headerName),
    trust: opts.trust,
    forwardedHeader: opts.forwardedHeader,
  });
  return {
    l3: hints.l3,
    l4: hints.l4,
    proxy: hints.l4 === undefined ? undefined : ownHint(input.hints, 'proxy'),
    l7: hints.l7.map((entry) => entry ?? null),
    observed: hints.observed,
    decidedBy: hints.decidedBy,
  };
}
