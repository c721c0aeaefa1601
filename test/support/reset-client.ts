import { connect } from 'node:net';

/**
 * Writes a whole GET request from `localAddress`, then resets the connection before any
 * answer can arrive (`socket.resetAndDestroy()`): the trick that makes a late read of
 * `socket.remoteAddress` on the server find nothing.
 */
export function writeAndReset(port: number, path: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.on('connect', () => {
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${lines.join('')}\r\n`, () => socket.resetAndDestroy());
    });
  });
}
