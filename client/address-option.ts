import { checkAddressSource, staticAddress, type AddressSource } from './address-source.js';
import { checkTtl } from './cached-address.js';
import { DEFAULT_ECHO_TTL_MS, echoAddressPerOrigin } from './echo-address.js';
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
    // checked here so that the error names the option the caller wrote, not the echo source's own `ttlMs`
    const ttlMs = checkTtl('echoTtlMs', echo.echoTtlMs, DEFAULT_ECHO_TTL_MS);
    return echoAddressPerOrigin({ url: echo.echoUrl, ttlMs, fetch: echo.fetch, now: echo.now });
  }
  if (ip === 'socket') throw new TypeError("ip: 'socket' needs a TCP connection: import from ipstamp/client/node");
  if (typeof ip === 'string') return sameAddressEverywhere(staticAddress(ip));
  if (isAddressSource(ip)) return sameAddressEverywhere(checkAddressSource(ip));
  if (isPerOriginAddress(ip)) return ip;
  throw new TypeError("ip must be an address, 'echo', an AddressSource or a PerOriginAddress");
}
