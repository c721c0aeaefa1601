import { canonicalAddress } from '../shared/address.js';
import type { ObservationSource } from '../shared/schema.js';

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

/** A fixed address, canonicalized once (PROTOCOL.md §3: the client canonicalizes). */
export function staticAddress(ip: string): AddressSource {
  const canonical = canonicalAddress(ip);
  if (canonical === undefined) throw new TypeError('ip must be a valid, specified IPv4 or IPv6 address');
  return { obs: 'static', current: () => canonical };
}
