import { resolveAddressOption, type AddressOption, type EchoSettings } from './address-option.js';
import type { PerOriginAddress } from './per-origin-address.js';
import { checkTtl } from './cached-address.js';
import { DEFAULT_SOCKET_TTL_MS, socketAddressPerOrigin, type SocketAddressSettings } from './socket-address.node.js';

/** The Node entry's `ip` option: everything the universal one takes, plus `'socket'`. */
export type NodeAddressOption = AddressOption | 'socket';

export interface SocketSettings {
  /** With `ip: 'socket'`: the local address to probe from — the one your agent binds to. */
  localAddress?: string | undefined;
  /** With `ip: 'socket'`: how long a learned address is reused. Default 5 minutes. */
  socketTtlMs?: number | undefined;
}

export function resolveNodeAddressOption(ip: unknown, echo: EchoSettings, socket: SocketSettings): PerOriginAddress {
  if (ip !== 'socket') {
    if (socket.localAddress !== undefined || socket.socketTtlMs !== undefined) {
      throw new TypeError("localAddress and socketTtlMs apply only to ip: 'socket'");
    }
    return resolveAddressOption(ip, echo);
  }
  // checked here so that the error names the option the caller wrote, not the socket source's own `ttlMs`
  const ttlMs = checkTtl('socketTtlMs', socket.socketTtlMs, DEFAULT_SOCKET_TTL_MS);
  const settings: SocketAddressSettings = { localAddress: socket.localAddress, ttlMs, now: echo.now };
  return socketAddressPerOrigin(settings);
}
