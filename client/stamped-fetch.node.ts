import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { resolveNodeAddressOption, type SocketSettings } from './node-address-option.node.js';
import type { ResponseLike } from './fetch-like.js';
import {
  createStampedFetch as createUniversalStampedFetch,
  STAMPED_FETCH_OPTION_NAMES,
  type AddressFetchOptions,
  type StampedFetch,
  type StampedFetchOptions,
} from './stamped-fetch.js';

/** `ip: 'socket'`: the local address of a TCP connection to each target (Node only). */
export interface SocketFetchOptions<R extends ResponseLike = Response> extends Omit<AddressFetchOptions<R>, 'ip'>, SocketSettings {
  ip: 'socket';
}

/** Everything the universal entry takes, plus `ip: 'socket'` with its settings (which belong to it alone). */
export type NodeStampedFetchOptions<R extends ResponseLike = Response> =
  (StampedFetchOptions<R> & { localAddress?: undefined; socketTtlMs?: undefined }) | SocketFetchOptions<R>;

/** Every key the Node entry's `createStampedFetch` takes: the universal ones and the socket settings. */
const NODE_STAMPED_FETCH_OPTION_NAMES: OptionNames<SocketFetchOptions> = Object.freeze({
  ...STAMPED_FETCH_OPTION_NAMES,
  localAddress: true,
  socketTtlMs: true,
});

/** `createStampedFetch` with `ip: 'socket'` available (Node only). */
export function createStampedFetch<R extends ResponseLike = Response>(options: NodeStampedFetchOptions<R>): StampedFetch<R> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, NODE_STAMPED_FETCH_OPTION_NAMES);
  const { localAddress, socketTtlMs, ...rest } = options;
  if (options.ip !== 'socket' && localAddress === undefined && socketTtlMs === undefined) {
    return createUniversalStampedFetch(rest as StampedFetchOptions<R>);
  }
  // Throws the TypeError for socket settings given without ip: 'socket'.
  const ip = resolveNodeAddressOption(options.ip, { now: options.now }, { localAddress, socketTtlMs });
  return createUniversalStampedFetch({ ...rest, ip } as StampedFetchOptions<R>);
}
