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
 * node:http2 hands each request no socket but a stand-in made for its stream, which reads the
 * session's socket while the session lasts, then the stream itself — and a new stand-in once
 * the stream has closed. So what the session's socket was at accept is kept on the stream,
 * under a symbol: the one place every stand-in of it still reads when the client has gone.
 */
const STREAM_CONNECTION = Symbol('ipstamp.streamConnection');

interface StreamConnection {
  readonly address: string;
  readonly encrypted: boolean;
}

/** node:http2's session and stream, as far as their connection goes (structural). */
interface Http2SessionLike {
  readonly encrypted?: boolean;
  readonly socket: { readonly remoteAddress?: string };
}
interface Http2StreamLike {
  readonly session?: Http2SessionLike;
  [STREAM_CONNECTION]?: StreamConnection;
}

const sessions = new WeakMap<Http2SessionLike, StreamConnection>();

/** A session is made as its connection is accepted (or its TLS handshake done): read its socket then. */
function recordSessionConnection(session: Http2SessionLike): void {
  const address = session.socket.remoteAddress;
  if (address !== undefined) sessions.set(session, { address, encrypted: session.encrypted === true });
}

function recordStreamConnection(stream: Http2StreamLike): void {
  const connection = stream.session === undefined ? undefined : sessions.get(stream.session);
  if (connection !== undefined) stream[STREAM_CONNECTION] = connection;
}

/** What was recorded for an HTTP/2 request's stand-in socket; undefined for any other socket. */
function streamConnectionOf(socket: Socket): StreamConnection | undefined {
  return (socket as Partial<Http2StreamLike>)[STREAM_CONNECTION];
}

/**
 * Records the peer of every connection `server` accepts from now on (idempotent). Attach it
 * before `listen`, or at least before traffic: a connection accepted earlier falls back to a
 * late read, and is refused if that finds nothing. For node:http, node:https and node:http2
 * servers (cleartext or TLS).
 */
export function trackPeerAddresses<S extends NetServer>(server: S): S {
  if (!tracked.has(server)) {
    tracked.add(server);
    // prepended: runs before the server's own handler can hand the socket to anyone else
    server.prependListener('connection', recordPeerAddress);
    // a TLS server hands its requests the TLS socket made over the one accepted
    server.prependListener('secureConnection', recordPeerAddress);
    // only node:http2's servers have sessions and streams
    server.prependListener('session', recordSessionConnection);
    server.prependListener('stream', recordStreamConnection);
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
  return peers.get(socket) ?? streamConnectionOf(socket)?.address ?? socket.remoteAddress;
}

/**
 * Whether the connection is TLS: recorded at accept for an HTTP/2 stream (whose stand-in
 * socket no longer knows once its session is gone), else the socket's own flag, set when a
 * TLSSocket is made.
 */
export function isEncrypted(socket: Socket | null | undefined): boolean | undefined {
  if (socket === null || socket === undefined) return undefined;
  return streamConnectionOf(socket)?.encrypted ?? (socket as { encrypted?: boolean }).encrypted === true;
}
