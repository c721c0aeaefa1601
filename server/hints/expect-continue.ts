import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { endLingering } from './lingering-close.js';

const deferring = new WeakSet<Server>();

/** Connections closing after a refusal while its body was still arriving: read and discarded, never served. */
const lingering = new WeakSet<Socket>();

/**
 * Answers `Expect: 100-continue` when the body is first read, not when the head arrives.
 *
 * A client sends that header so that it can be refused before it uploads (RFC 9110 §10.1.1).
 * Node sends the `100` as soon as the head is parsed, before any handler runs. A stampless
 * request, or one whose stamp fails, is then refused only after the client has been told to
 * send its body, or while it is still sending it. With this, the `100` goes out when something
 * (a body parser, a proxy, ipstamp's own `cdg` check) first reads the body. A request refused
 * before that gets its refusal and no `100`; Node then closes the connection
 * (`Connection: close`), and the client never uploads. A request framed with no content
 * (no Content-Length nor Transfer-Encoding, or a Content-Length of zero) gets its `100` at once.
 *
 * A client may send its body without waiting (RFC 9110 §10.1.1, curl after a second): a body
 * read once it has arrived still gets its `100` first, so the connection is kept; a connection
 * closed while such a body is still arriving reads it for a while before it is destroyed, so
 * that the client can read the refusal (a close with unread bytes resets the connection and
 * can take the answer with it, RFC 9112 §9.6), and a request that follows on it is never
 * served. A pipelined request's `100` waits for its turn on the connection, and none follows
 * its final answer.
 *
 * Call it on the server before traffic (idempotent); it returns the server. A server with a
 * `checkContinue` listener of its own is refused with a `TypeError`: only one can answer.
 */
export function continueWhenBodyRead<S extends Server>(server: S): S {
  if (deferring.has(server)) return server;
  if (server.listenerCount('checkContinue') > 0) {
    throw new TypeError('continueWhenBodyRead: the server already has a checkContinue listener, which answers Expect: 100-continue itself');
  }
  deferring.add(server);
  serveNothingWhileLingering(server);
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    if (framesNoContent(request)) sendContinue(response);
    else {
      continueOnFirstRead(request, response);
      lingerWhileArriving(request, response);
    }
    server.emit('request', request, response);
  });
  return server;
}

/** HTTP/1.1 framing with no content: neither header (RFC 9112 §6.3), or a Content-Length of zero in any spelling. */
function framesNoContent(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] === undefined && (length === undefined || /^0+$/.test(length));
}

/**
 * The `100`, unless the final answer has begun. A pipelined request's response has no socket
 * until the answers ahead of it are done; Node would queue the `100` for it, and a head written
 * before that turn comes goes out ahead of the queue (`OutgoingMessage#_send` puts it first),
 * the `100` then inside the final answer's body. So it waits for the socket, and is dropped if
 * the final answer began meanwhile.
 */
function sendContinue(response: ServerResponse): void {
  if (response.headersSent) return;
  if (response.socket !== null) {
    response.writeContinue();
    return;
  }
  response.once('socket', () => {
    if (!response.headersSent) response.writeContinue();
  });
}

/**
 * Every consumer asks `read()` first (a `data` listener and `pipe` through resume/flow, an
 * async iterator, a `readable` listener), also when the body has already arrived in full and
 * `_read` would never be called. Node also reads a body nobody read once the answer has gone
 * (to keep the connection); by then the answer is final and no `100` may follow it.
 */
function continueOnFirstRead(request: IncomingMessage, response: ServerResponse): void {
  const carrier = request as IncomingMessage & { read: IncomingMessage['read'] };
  carrier.read = function firstRead(this: IncomingMessage, size?: number): unknown {
    // the prototype's own again from here on
    delete (carrier as Partial<typeof carrier>).read;
    sendContinue(response);
    return this.read(size);
  } as IncomingMessage['read'];
}

/**
 * Node closes a connection whose request was answered before its body had arrived (with no
 * `100` that is every refusal) by ending it and destroying it at once. A client that sent its
 * body anyway then has bytes in flight: the close resets the connection, and a client reading
 * its answer only after writing its upload loses it. Instead the connection is half-closed and
 * the rest of the body read (Node discards it) until the client closes, for at most 2 s (`endLingering`).
 */
function lingerWhileArriving(request: IncomingMessage, response: ServerResponse): void {
  response.once('prefinish', () => {
    const socket = response.socket;
    if (request.complete || socket === null) return;
    const carrier = socket as Socket & { destroySoon: () => void };
    carrier.destroySoon = function lingeringClose(this: Socket): void {
      delete (carrier as Partial<typeof carrier>).destroySoon;
      lingering.add(this);
      endLingering(this);
    };
    // kept alive after all: Node's own again
    response.once('finish', () => {
      if (Object.hasOwn(carrier, 'destroySoon')) delete (carrier as Partial<typeof carrier>).destroySoon;
    });
  });
}

/** The server events that hand a parsed request to the app. */
const REQUEST_EVENTS: ReadonlySet<string | symbol> = new Set(['request', 'checkContinue', 'checkExpectation', 'upgrade', 'connect']);

/**
 * While a connection lingers, Node's parser still reads it, and a request that follows the
 * refused body would reach the app: its handler run (a stamp consumed, an order placed) on a
 * connection that answered `Connection: close`, its answer never sent. A server that said close
 * processes no further request on the connection (RFC 9112 §9.6), so none is emitted: its
 * bytes are read and dropped with the body's.
 */
function serveNothingWhileLingering(server: Server): void {
  const emit = server.emit;
  server.emit = function emitUnlessLingering(this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (REQUEST_EVENTS.has(event)) {
      const request = args[0] as IncomingMessage;
      if (lingering.has(request.socket)) {
        // a request nobody reads would stop the parser, and with it the draining; a socket
        // taken off the parser (an upgrade) is nobody's: closed now
        if (event === 'upgrade' || event === 'connect') (args[1] as Socket).destroy();
        else request.resume();
        return false;
      }
    }
    return Reflect.apply(emit, this, [event, ...args]) as boolean;
  } as Server['emit'];
}
