import { resolveNodeAddressOption, type NodeAddressOption, type SocketSettings } from './node-address-option.node.js';
import type { ResponseLike } from './fetch-like.js';
import { createStampedFetch as createUniversalStampedFetch, type StampedFetch, type StampedFetchOptions } from './stamped-fetch.js';

export interface NodeStampedFetchOptions<R extends ResponseLike = Response> extends Omit<StampedFetchOptions<R>, 'ip'>, SocketSettings {
  /** Everything the universal entry takes, plus `'socket'`: the local address of a TCP connection to each target. */
  ip: NodeAddressOption;
}

/** `createStampedFetch` with `ip: 'socket'` available (Node only). */
export function createStampedFetch<R extends ResponseLike = Response>(options: NodeStampedFetchOptions<R>): StampedFetch<R> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { localAddress, socketTtlMs, ...rest } = options;
  if (options.ip !== 'socket' && localAddress === undefined && socketTtlMs === undefined) {
    return createUniversalStampedFetch(rest as StampedFetchOptions<R>);
  }
  // Throws the TypeError for socket settings given without ip: 'socket'.
  const ip = resolveNodeAddressOption(options.ip, { now: options.now }, { localAddress, socketTtlMs });
  return createUniversalStampedFetch({ ...rest, ip });
}
