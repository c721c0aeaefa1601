import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const deferring = new WeakSet<Server>();

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
 * (`Content-Length: 0`) gets its `100` at once.
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
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    if (request.headers['content-length'] === '0' && request.headers['transfer-encoding'] === undefined) response.writeContinue();
    else continueOnFirstRead(request, response);
    server.emit('request', request, response);
  });
  return server;
}

/**
 * Streams call `_read` when a consumer first wants data (a `data` listener, `pipe`, `read()`),
 * so the first call is the moment the body is read. Node also reads a body nobody read once
 * the answer has gone (to keep the connection); by then the answer is final and no `100`
 * may follow it.
 */
function continueOnFirstRead(request: IncomingMessage, response: ServerResponse): void {
  const carrier = request as IncomingMessage & { _read: IncomingMessage['_read'] };
  carrier._read = function firstRead(this: IncomingMessage, size: number): void {
    // the prototype's own again from here on
    delete (carrier as Partial<typeof carrier>)._read;
    if (!response.headersSent) response.writeContinue();
    this._read(size);
  };
}
