import { connect, isIP } from 'node:net';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { cachedAddress, checkTtl, type RefreshableAddressSource } from './cached-address.js';
import { IpStampClientError } from './client-error.js';
import { perOriginAddress, type PerOriginAddress } from './per-origin-address.js';

export const DEFAULT_SOCKET_TTL_MS = 5 * 60_000;
export const DEFAULT_SOCKET_TIMEOUT_MS = 5_000;

export interface SocketAddressSettings {
  /** Bind the probe connection here, as your HTTP agent binds its connections (undici `new Agent({ localAddress })`). */
  localAddress?: string | undefined;
  /** How long a learned address is reused. Default 5 minutes. */
  ttlMs?: number | undefined;
  /** Give up on the probe connection after this long. Default 5 s. */
  timeoutMs?: number | undefined;
  now?: (() => number) | undefined;
}

export interface SocketAddressOptions extends SocketAddressSettings {
  host: string;
  port: number;
}

const failed = (cause?: unknown) => new IpStampClientError('ERR_IPSTAMP_SOCKET_FAILED', cause === undefined ? undefined : { cause });

const SOCKET_SETTING_NAMES: OptionNames<SocketAddressSettings> = Object.freeze({ localAddress: true, ttlMs: true, timeoutMs: true, now: true });
const SOCKET_ADDRESS_OPTION_NAMES: OptionNames<SocketAddressOptions> = Object.freeze({ ...SOCKET_SETTING_NAMES, host: true, port: true });

function checkSettings(options: SocketAddressSettings, names: Readonly<Record<string, true>> = SOCKET_SETTING_NAMES): { ttlMs: number; timeoutMs: number } {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, names);
  if (options.localAddress !== undefined && isIP(options.localAddress) === 0) throw new TypeError('localAddress must be an IP address');
  return {
    ttlMs: checkTtl('ttlMs', options.ttlMs, DEFAULT_SOCKET_TTL_MS),
    timeoutMs: checkTtl('timeoutMs', options.timeoutMs, DEFAULT_SOCKET_TIMEOUT_MS),
  };
}

/** Opens a TCP connection, reads the local end's address, closes it. Nothing is sent. */
function probe(host: string, port: number, localAddress: string | undefined, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(localAddress === undefined ? {} : { localAddress }) });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(failed());
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(failed(error));
    });
    socket.once('connect', () => {
      const address = socket.localAddress;
      socket.destroy();
      if (address === undefined) reject(failed());
      else resolve(address);
    });
  });
}

/**
 * `obs: "socket"`: the address this host uses to reach the target — the local end of a TCP
 * connection to it (an IPv4-mapped `::ffff:a.b.c.d` is written as IPv4). It is what the
 * server sees only when nothing rewrites the source address on the way (no NAT, a direct
 * connection or an L3 load balancer); behind NAT, use `'echo'`.
 */
export function socketAddress(options: SocketAddressOptions): RefreshableAddressSource {
  const { ttlMs, timeoutMs } = checkSettings(options, SOCKET_ADDRESS_OPTION_NAMES);
  if (typeof options.host !== 'string' || options.host === '') throw new TypeError('host must be a host name or address');
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) throw new TypeError('port must be 1–65535');
  const { host, port, localAddress } = options;
  return cachedAddress(
    'socket',
    () => probe(host, port, localAddress, timeoutMs),
    () => failed(),
    { ttlMs, now: options.now },
  );
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** `ip: 'socket'`: one probe per target origin, cached per origin. */
export function socketAddressPerOrigin(options: SocketAddressSettings = {}): PerOriginAddress {
  checkSettings(options);
  return perOriginAddress((origin) => {
    const url = new URL(origin);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (DEFAULT_PORTS[url.protocol] ?? 80) : Number(url.port);
    return socketAddress({ ...options, host, port });
  });
}
