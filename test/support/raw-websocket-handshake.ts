import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

/** One answer to a raw WebSocket handshake, as it came off the wire. */
export interface HandshakeAnswer {
  /** `HTTP/1.1 401 Unauthorized`, `HTTP/1.1 101 Switching Protocols`. */
  statusLine: string;
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  /** A refusal's body (a chunked one decoded); after a 101, the bytes of the frames that followed. */
  body: string;
}

/**
 * A WebSocket handshake (RFC 6455 §4.1) for `url`'s path, written by hand from `localAddress`
 * with `headers` added, so that a refusal's status line and body can be read as they are sent —
 * which a WebSocket client hides; `extra` is written right behind it (frames sent before any
 * answer). It resolves once a refusal's body is complete, once a 101 is followed by a frame
 * carrying `until`, or when the server closes; then it hangs up.
 */
export function rawWebSocketHandshake(
  url: string,
  headers: Readonly<Record<string, string>> = {},
  { localAddress = '127.0.0.2', until = '', extra = '' }: { localAddress?: string; until?: string; extra?: string } = {},
): Promise<HandshakeAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname, port: Number(target.port), localAddress });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (answer: HandshakeAnswer | undefined): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (answer) resolve(answer);
      else reject(new Error(`no complete answer to the handshake: ${JSON.stringify(received.toString('latin1'))}`));
    };
    const parse = (closed: boolean): HandshakeAnswer | undefined => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const fields: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = received.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
      const answer = (body: string): HandshakeAnswer => ({ statusLine: statusLine!, headers: fields, body });
      if (statusLine!.split(' ')[1] === '101') {
        const frames = rest.toString('utf8');
        return closed || (until !== '' && frames.includes(until)) ? answer(frames) : undefined;
      }
      if (fields['transfer-encoding']?.toLowerCase() === 'chunked') {
        let body = '';
        let at = 0;
        for (;;) {
          const lineEnd = rest.indexOf('\r\n', at);
          if (lineEnd < 0) return undefined;
          const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
          if (size === 0) return answer(body);
          if (rest.length < lineEnd + 2 + size + 2) return undefined;
          body += rest.subarray(lineEnd + 2, lineEnd + 2 + size).toString('utf8');
          at = lineEnd + 2 + size + 2;
        }
      }
      const length = fields['content-length'];
      if (length !== undefined) return rest.length >= Number(length) ? answer(rest.subarray(0, Number(length)).toString('utf8')) : undefined;
      return closed ? answer(rest.toString('utf8')) : undefined;
    };
    socket.on('error', (error) => (settled ? undefined : ((settled = true), reject(error))));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const answer = parse(false);
      if (answer) finish(answer);
    });
    socket.on('close', () => finish(parse(true)));
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
        `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n${lines.join('')}\r\n${extra}`,
    );
  });
}

/**
 * The server's side: RFC 6455 §4.2.2's 101 for `req`'s key and one text frame, `hello`, which
 * `rawWebSocketHandshake(…, { until: 'hello' })` waits for; with `end`, the socket is ended behind it.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, { end = false }: { end?: boolean } = {}): void {
  const accept = createHash('sha1')
    .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
  const frame = Buffer.from([0x81, 5, ...Buffer.from('hello')]);
  if (end) socket.end(frame);
  else socket.write(frame);
}
