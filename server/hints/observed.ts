import type { TrustMatcher } from './trust.js';

/**
 * PROTOCOL.md §4 "observed": walk `[...l7, l4?, l3]` from the right, skipping trusted
 * proxies; the first untrusted address is the client. An invalid entry (undefined) before
 * that, or a chain of nothing but trusted addresses, leaves the client unknown.
 *
 * Callers pass l7 entries only when the immediate peer is trusted, and l4 only when l3 is.
 */
export function observedAddress(chain: readonly (string | undefined)[], trust: TrustMatcher): string | undefined {
  const index = observedIndex(chain, trust);
  return index === -1 ? undefined : chain[index];
}

/** The same walk, returning where it ended: the observed entry's index, or -1 when unknown. */
export function observedIndex(chain: readonly (string | undefined)[], trust: TrustMatcher): number {
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = chain[i];
    if (address === undefined) return -1;
    if (!trust.contains(address)) return i;
  }
  return -1;
}
