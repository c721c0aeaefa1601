import type { AddressSource } from './address-source.js';

/**
 * Address sources keyed by the target's origin (`https://api.example.com`): the address a
 * client shows one server need not be the one it shows another (a VPN, a second uplink).
 */
export interface PerOriginAddress {
  sourceFor(origin: string): AddressSource;
}

export const DEFAULT_MAX_ORIGINS = 256;

/**
 * Creates sources lazily, one per origin. The map is bounded: past `maxOrigins` the oldest is
 * forgotten, which costs nothing but one more lookup if that origin comes back.
 */
export function perOriginAddress(create: (origin: string) => AddressSource, maxOrigins = DEFAULT_MAX_ORIGINS): PerOriginAddress {
  if (typeof create !== 'function') throw new TypeError('create must be a function origin → AddressSource');
  if (!Number.isInteger(maxOrigins) || maxOrigins < 1) throw new TypeError('maxOrigins must be a positive integer');
  const sources = new Map<string, AddressSource>();
  return {
    sourceFor(origin: string): AddressSource {
      let source = sources.get(origin);
      if (source === undefined) {
        source = create(origin);
        if (sources.size >= maxOrigins) sources.delete(sources.keys().next().value!);
        sources.set(origin, source);
      }
      return source;
    },
  };
}

export function isPerOriginAddress(value: unknown): value is PerOriginAddress {
  return typeof value === 'object' && value !== null && typeof (value as PerOriginAddress).sourceFor === 'function';
}

export function isAddressSource(value: unknown): value is AddressSource {
  return typeof value === 'object' && value !== null && typeof (value as AddressSource).current === 'function';
}

/** A single source for every origin. */
export function sameAddressEverywhere(source: AddressSource): PerOriginAddress {
  return { sourceFor: () => source };
}
