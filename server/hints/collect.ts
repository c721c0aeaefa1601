import { hintAddress } from '../../shared/address.js';
import { forwardingHeaderReader, type ForwardingEntries, type ForwardingHeaderReader } from './forwarding-header.js';
import { l4AddressOf, type ProxyHeader } from './proxy-header.js';
import type { TrustMatcher } from './trust.js';

export interface HintSources {
  /** The socket peer as Node reports it (`socket.remoteAddress`, e.g. `::ffff:127.0.0.1`); null/undefined when unknown. */
  readonly l3: string | null | undefined;
  /** The connection's PROXY header (`proxyHeaderOf(socket)`), or just its source address, when it had one. */
  readonly l4?: ProxyHeader | string | undefined;
  /** Every instance of the configured forwarding header, in order (`req.headersDistinct[name] ?? []`). */
  readonly headerValues: readonly string[];
  readonly trust: TrustMatcher;
  /** A compiled reader (preferred: compile once) or a header name; default `x-forwarded-for`. */
  readonly forwardedHeader?: ForwardingHeaderReader | string;
}

export type HintLayer = 'l3' | 'l4' | 'l7';

export interface CollectedHints {
  /** Canonical socket peer; undefined when it is unknown (socket gone, or an unspecified address). */
  readonly l3?: string;
  /** The PROXY header's source, present only when l3 is a trusted proxy and the header named one. */
  readonly l4?: string;
  /** The forwarding header's entries, only when the immediate peer is trusted; else empty. */
  readonly l7: ForwardingEntries;
  /** PROTOCOL.md §4: the first untrusted address from the right; undefined when unknowable. */
  readonly observed?: string;
  /** Which layer `observed` came from; present exactly when `observed` is. */
  readonly decidedBy?: HintLayer;
}

const readers = new Map<string, ForwardingHeaderReader>();

function readerFor(spec: ForwardingHeaderReader | string | undefined): ForwardingHeaderReader {
  if (typeof spec === 'function') return spec;
  const name = spec ?? 'x-forwarded-for';
  let reader = readers.get(name);
  if (reader === undefined) {
    reader = forwardingHeaderReader(name);
    if (readers.size < 16) readers.set(name, reader);
  }
  return reader;
}

/**
 * The hints of one request, from plain data (PROTOCOL.md §4). l4 counts only when l3 is
 * trusted; l7 only when the immediate peer — l4 if present, else l3 — is trusted. Pure.
 */
export function collectHints(sources: HintSources): CollectedHints {
  const { trust } = sources;
  const l3 = typeof sources.l3 === 'string' ? hintAddress(sources.l3) : undefined;
  const l3Trusted = l3 !== undefined && trust.contains(l3);
  const l4Given = !l3Trusted ? undefined : typeof sources.l4 === 'string' ? sources.l4 : l4AddressOf(sources.l4);
  const l4 = l4Given === undefined ? undefined : hintAddress(l4Given);
  // A PROXY source that is no address is an invalid entry (PROTOCOL.md §4.4), not an absent l4:
  // the immediate peer is still that source, so no forwarding header is believed — behind an
  // L4 proxy the client wrote it — and the walk stops there, the client unknown.
  if (l4Given !== undefined && l4 === undefined) return { l3, l7: [] };
  const peer = l4 ?? l3;
  const l7: ForwardingEntries = peer !== undefined && trust.contains(peer) ? readerFor(sources.forwardedHeader)(sources.headerValues) : [];

  const chain: (string | undefined)[] = l7.slice();
  if (l4 !== undefined) chain.push(l4);
  chain.push(l3);
  const index = observedIndex(chain, trust);
  if (index === -1) return { l3, l4, l7 };
  const decidedBy: HintLayer = index < l7.length ? 'l7' : index === chain.length - 1 ? 'l3' : 'l4';
  return { l3, l4, l7, observed: chain[index], decidedBy };
}

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
