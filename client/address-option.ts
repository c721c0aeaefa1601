import { checkAddressSource, staticAddress, type AddressSource } from './address-source.js';
import { echoAddressPerOrigin } from './echo-address.js';
import type { FetchLike, ResponseLike } from './fetch-like.js';
import { isAddressSource, isPerOriginAddress, sameAddressEverywhere, type PerOriginAddress } from './per-origin-address.js';

/**
 * The `ip` option: an address literal, `'echo'` (ask each target), a source of your own, or
 * sources per origin. The Node entry adds `'socket'`.
 */
export type AddressOption = string | AddressSource | PerOriginAddress;

export interface EchoSettings {
  echoUrl?: string | URL | undefined;
  echoTtlMs?: number | undefined;
  fetch?: FetchLike<ResponseLike> | undefined;
  now?: (() => number) | undefined;
}

export function resolveAddressOption(ip: unknown, echo: EchoSettings): PerOriginAddress {
  if (ip === 'echo') {
    return echoAddressPerOrigin({ url: echo.echoUrl, ttlMs: echo.echoTtlMs, fetch: echo.fetch, now: echo.now });
  }
  if (ip === 'socket') throw new TypeError("ip: 'socket' needs a TCP connection: import from ipstamp/client/node");
  if (typeof ip === 'string') return sameAddressEverywhere(staticAddress(ip));
  if (isAddressSource(ip)) return sameAddressEverywhere(checkAddressSource(ip));
  if (isPerOriginAddress(ip)) return ip;
  throw new TypeError("ip must be an address, 'echo', an AddressSource or a PerOriginAddress");
}
