import type { ConnectionHints } from '../verify/types.js';

/**
 * Where the peer address (l3, PROTOCOL.md §4) comes from on each runtime, read once when the
 * request arrives. Each preset answers `l3: undefined` — an unknown peer, which the verifier
 * refuses (`ip-unverifiable`) — for anything but one plain address: an absent value, a list,
 * the unspecified addresses `0.0.0.0` and `::`, port 0 (what Bun and Deno report for a client
 * that reset its connection). The verifier still parses and canonicalizes what it gets.
 */

/** The header Cloudflare's edge sets to the address of the client that connected to it. */
export const CF_CONNECTING_IP = 'cf-connecting-ip';

const UNSPECIFIED = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0']);
/** The characters of an IPv4 or IPv6 address (no zone: a scoped address is no client's). */
const ADDRESS_CHARACTERS = /^[0-9A-Fa-f.:]{2,45}$/;

function knownAddress(address: unknown, port?: unknown): string | undefined {
  if (typeof address !== 'string' || !ADDRESS_CHARACTERS.test(address) || UNSPECIFIED.has(address.toLowerCase())) return undefined;
  if (port !== undefined && port !== null && port === 0) return undefined;
  return address;
}

/**
 * Cloudflare Workers: a Worker never sees a socket — the TCP peer is Cloudflare's edge, which
 * terminates the client's connection and writes the client's address into `CF-Connecting-IP`,
 * replacing whatever the client sent. For this preset that header IS the l3 (PROTOCOL.md §4):
 * trust rests on every request reaching the Worker through the edge. It does not hold for a
 * request another Worker makes through a service binding (that Worker chose the headers), nor
 * for workerd or `wrangler dev` reached directly: put a proxy that overwrites the header in front.
 */
export function cloudflarePeer(request: Request): ConnectionHints {
  return { l3: knownAddress(request.headers.get(CF_CONNECTING_IP)) };
}

/** What `Bun.serve` hands `fetch` as its second argument (only `requestIP` is used). */
export interface BunServerLike {
  requestIP(request: Request): { address: string; port: number; family?: string } | null;
}

/**
 * Bun: `server.requestIP(request)` is the socket's peer. Call it first thing in `fetch` — a
 * client that has reset its connection reads `null` (or `0.0.0.0`, port 0): an unknown peer.
 */
export function bunPeer(request: Request, server: BunServerLike): ConnectionHints {
  let info: ReturnType<BunServerLike['requestIP']>;
  try {
    info = server.requestIP(request);
  } catch {
    info = null;
  }
  return { l3: info ? knownAddress(info.address, info.port) : undefined };
}

/** What `Deno.serve` hands the handler as its second argument (only `remoteAddr` is used). */
export interface DenoServeInfoLike {
  remoteAddr?: { transport?: string; hostname?: string; port?: number } | null;
}

/**
 * Deno: `info.remoteAddr` is the socket's peer for a TCP listener; a Unix socket has no
 * address (unknown peer), and a reset connection may read `0.0.0.0:0` (unknown peer).
 */
export function denoPeer(info: DenoServeInfoLike): ConnectionHints {
  const remote = info?.remoteAddr;
  if (!remote || (remote.transport !== 'tcp' && remote.transport !== 'udp')) return { l3: undefined };
  return { l3: knownAddress(remote.hostname, remote.port) };
}
