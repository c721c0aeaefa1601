/**
 * How long a connection that sent its last answer keeps reading (and discarding) what the
 * client still sends before it is destroyed.
 */
const LINGER_MS = 2000;

/** What a lingering close uses of a socket (a `net.Socket`, or the `Duplex` of an upgrade). */
interface LingeringSocket {
  end(): unknown;
  end(last: Uint8Array): unknown;
  destroy(): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * A close after a refusal while the client may still be sending (a body, the frames behind a
 * handshake). Destroyed at once, the socket would find those bytes unread and reset the
 * connection, and a client that reads its answer only after writing loses it (RFC 9112 §9.6).
 * So the answer goes out with a FIN, what arrives is read by the caller's reader until the
 * client closes too, and the socket is destroyed after LINGER_MS if it never does.
 */
export function endLingering(socket: LingeringSocket, last?: Uint8Array): void {
  if (last === undefined) socket.end();
  else socket.end(last);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
