import { canonicalAddress } from '../shared/address.js';
import type { ObservationSource } from '../shared/schema.js';
import { OBSERVATION_SOURCES } from '../shared/token-checks.js';

/**
 * Where the address a client signs comes from. `current()` may do I/O (echo, socket);
 * `invalidate()` drops a cached address after the server answered `ip-mismatch` — given the
 * address the rejected stamp carried, a source may keep a newer one it has learned since.
 */
export interface AddressSource {
  readonly obs: ObservationSource;
  current(): string | Promise<string>;
  invalidate?(staleAddress?: string): void;
}

/**
 * Checks what a source says of itself: its `obs` is written into every stamp as the claim of
 * that name, which a verifier refuses (`bad-claims`) unless it is one of the protocol's
 * observation sources (PROTOCOL.md §2.2) — so a custom source's `obs: 'stun'` fails here, with a
 * TypeError naming it, instead of on every request. A source without `obs` signs none (the
 * claim is optional).
 */
export function checkAddressSource<S extends AddressSource>(source: S, name = 'ip'): S {
  const obs: unknown = source.obs;
  if (obs !== undefined && !(OBSERVATION_SOURCES as readonly unknown[]).includes(obs)) {
    throw new TypeError(`${name}.obs must be one of ${OBSERVATION_SOURCES.join(', ')}`);
  }
  return source;
}

/** A fixed address, canonicalized once (PROTOCOL.md §3: the client canonicalizes). */
export function staticAddress(ip: string): AddressSource {
  const canonical = canonicalAddress(ip);
  if (canonical === undefined) throw new TypeError('ip must be a valid, specified IPv4 or IPv6 address');
  return { obs: 'static', current: () => canonical };
}
