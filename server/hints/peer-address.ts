import type { Server as NetServer, Socket } from 'node:net';

/**
 * The TCP peer of each connection, as read when it was accepted (PROTOCOL §4). A peer that
 * resets right after writing its request makes `socket.remoteAddress` read `undefined` by the
 * time a hook looks — and an unknown l3 must never pass for "every hop trusted". Kept per
 * socket, so every keep-alive request on a connection gets the one read made at accept.
 */
const peers = new WeakMap<Socket, string>();
const tracked = new WeakSet<NetServer>();

/** Records a socket's peer now; call it from the server's `connection` event. */
export function recordPeerAddress(socket: Socket): void {
  const address = socket.remoteAddress;
  if (address !== undefined) peers.set(socket, address);
}

/**
 * Records the peer of every connection `server` accepts from now on (idempotent). Attach it
 * before `listen`, or at least before traffic: a connection accepted earlier falls back to a
 * late read, and is refused if that finds nothing.
 */
export function trackPeerAddresses<S extends NetServer>(server: S): S {
  if (!tracked.has(server)) {
    tracked.add(server);
    // prepended: runs before the server's own handler can hand the socket to anyone else
    server.prependListener('connection', recordPeerAddress);
  }
  return server;
}

/**
 * The peer recorded at accept; else a late read (a socket from `fastify.inject`, or a server
 * nobody tracked), which yields `undefined` for a connection already reset — and the verifier
 * refuses an unknown peer.
 */
export function peerAddressOf(socket: Socket | null | undefined): string | undefined {
  if (socket === null || socket === undefined) return undefined;
  return peers.get(socket) ?? socket.remoteAddress;
}
