import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Drain } from './readiness.js';

/** How often requests still arriving are checked against --request-timeout (Node's default is 30 s). */
export const ARRIVAL_CHECK_MS = 1000;

interface Connection {
  /** When the connection, or its latest request, began (that request's head was read). */
  since: number;
  request: IncomingMessage | undefined;
  response: ServerResponse | undefined;
}

/**
 * What serve knows of each open connection: when its latest request began, that request and its
 * answer. Read by the answer to a client error (below) and by the drain.
 */
export class ConnectionLedger {
  readonly #connections = new Map<Socket, Connection>();

  watch(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.#connections.set(socket, { since: Date.now(), request: undefined, response: undefined });
      socket.once('close', () => this.#connections.delete(socket));
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const connection = this.#connections.get(request.socket);
      if (connection === undefined) return;
      connection.since = Date.now();
      connection.request = request;
      connection.response = response;
    });
  }

  /**
   * The connection's latest request was answered before its body had all arrived (a stampless
   * request refused at its head, say), and Node is still reading that body to keep the
   * connection. An error now belongs to that request, which has its answer.
   */
  answeredWhileArriving(socket: Socket): boolean {
    const connection = this.#connections.get(socket);
    return connection?.request?.complete === false && connection.response?.headersSent === true;
  }

  entries(): IterableIterator<[Socket, Connection]> {
    return this.#connections.entries();
  }
}

const CLIENT_ERRORS: Record<string, readonly [status: number, message: string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Client Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Exceeded maximum allowed HTTP header size'],
};

/**
 * Fastify's answer to a client error (a request that stopped arriving, a malformed or oversized
 * head), less one thing it does that Node's own does not either guard against: writing a 408
 * after the request it belongs to was answered. Refused at its head, a request whose body then
 * stalls got its 401 and, --request-timeout later, a second, unrequested answer on the same
 * connection; a proxy pooling connections to serve could hand that to the next request's
 * client. Such a connection is now closed without a word; every other client error is answered
 * as before, and the connection closed.
 */
export function clientErrorAnswer(ledger: ConnectionLedger): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable && !ledger.answeredWhileArriving(socket)) {
      const [status, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Client Error'];
      const title = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      const body = JSON.stringify({ error: title, message, statusCode: status });
      socket.write(`HTTP/1.1 ${status} ${title}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy(error);
  };
}

/**
 * Node stops timing out requests still arriving once its server closes (close() clears that
 * check), so a client that went silent halfway through a request would hold the drain open for
 * ever. From `begin()` on this check runs here instead: a connection whose request (or the next
 * request's headers) is still arriving --request-timeout after it began, and no sooner than that
 * after the drain began, is closed. A request received in full and waiting for its answer is
 * left to finish (--upstream-timeout bounds it).
 */
export function timeOutArrivalsWhileDraining(server: Server, ledger: ConnectionLedger, timeoutMs: number): Drain {
  return {
    begin() {
      const began = Date.now();
      const timer = setInterval(() => {
        const now = Date.now();
        for (const [socket, { since, request, response }] of ledger.entries()) {
          // received in full and not answered yet: in flight
          if (request?.complete === true && response?.writableFinished === false) continue;
          if (now - Math.max(since, began) >= timeoutMs) socket.destroy();
        }
      }, ARRIVAL_CHECK_MS);
      timer.unref();
      server.once('close', () => clearInterval(timer));
    },
  };
}
