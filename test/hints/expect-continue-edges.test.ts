import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { continueWhenBodyRead } from '../../server/index.js';
import { finalOnKeptConnection, rawExchange } from '../cli/raw-http.js';

/**
 * continueWhenBodyRead on a plain node:http server, at the edges: pipelining, clients that do not
 * wait for the 100 (RFC 9110 §10.1.1 lets them), bodiless requests.
 */

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((done) => server.close(done));
  });
  return (server.address() as AddressInfo).port;
}

/** Reads the body (on the next turn, as an app with an async step does) and answers with a Buffer. */
function reader(options: { hold?: Promise<void>; reading?: () => void } = {}): Server {
  return continueWhenBodyRead(
    createServer((req, res) => {
      if (req.url === '/hold') {
        void options.hold?.then(() => res.end('held'));
        return;
      }
      setImmediate(() => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => res.end(Buffer.from(`read ${Buffer.concat(chunks).length}`)));
        options.reading?.();
      });
    }),
  );
}

describe('continueWhenBodyRead: pipelining, eager clients, bodiless requests, lost refusals', () => {
  it('pipelined behind a request in flight: a body read before its turn gets no 100 inside its final answer', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    let onReading!: () => void;
    const reading = new Promise<void>((r) => (onReading = r));
    const port = await listen(reader({ hold, reading: () => onReading() }));
    const exchange = await rawExchange(port, (socket) => {
      socket.write(
        `GET /hold HTTP/1.1\r\nHost: a\r\n\r\nPUT /next HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 5\r\n\r\n`,
      );
      // /next is read (and answered) while /hold is still in flight; its client, which can get no
      // 100 before /hold's answer, sends the body anyway
      void reading.then(() => {
        socket.write('hello');
        // /hold is answered once /next's answer is queued behind it
        setTimeout(release, 100);
      });
    });
    const finals = exchange.responses.filter((r) => r.status >= 200);
    expect(finals.map((r) => [r.status, r.body])).toEqual([
      [200, 'held'],
      [200, 'read 5'],
    ]);
    expect(exchange.text).not.toMatch(/\r\n\r\n[^H]*HTTP\/1\.1 100 Continue/);
  });

  it('a client that sent its body without waiting, read after it arrived: answered and the connection kept', async () => {
    const port = await listen(reader());
    const exchange = await rawExchange(port, `PUT /eager HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello`, { giveUpMs: 1000 });
    const final = finalOnKeptConnection(exchange);
    expect([final.status, final.body]).toEqual([200, 'read 5']);
  });

  it('a first read of a given size, of a body that has arrived, gets that many bytes', async () => {
    const port = await listen(
      continueWhenBodyRead(
        createServer((req, res) => {
          // waits (without reading) until the eager client's body is buffered, then reads 2 bytes of it
          const whenArrived = (): void => {
            if (req.readableLength < 5) return void setImmediate(whenArrived);
            const first = req.read(2) as Buffer | null;
            req.resume();
            req.on('end', () => res.end(`first ${String(first)}`));
          };
          whenArrived();
        }),
      ),
    );
    const exchange = await rawExchange(port, `PUT /sized HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello`);
    expect(exchange.responses.filter((r) => r.status >= 200).map((r) => r.body)).toEqual(['first he']);
  });

  it.each([
    ['no Content-Length nor Transfer-Encoding', 'GET /none HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n'],
    ['Content-Length: 00', 'PUT /zeros HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 00\r\n\r\n'],
  ])('a request with no body (%s) keeps its connection', async (_name, request) => {
    const port = await listen(
      continueWhenBodyRead(
        createServer((_req, res) => {
          // an app that does not read a body the request does not have
          setImmediate(() => res.end('done'));
        }),
      ),
    );
    const exchange = await rawExchange(port, request, { giveUpMs: 1000 });
    const final = finalOnKeptConnection(exchange);
    expect(final.status).toBe(200);
  });

  it.each([
    ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
    ['a Content-Length with a leading zero', 'Content-Length: 05'],
  ])('a request with a body (%s) refused before it is read gets no 100', async (_name, framing) => {
    const port = await listen(
      continueWhenBodyRead(
        createServer((_req, res) => {
          res.statusCode = 401;
          res.end('refused');
        }),
      ),
    );
    const exchange = await rawExchange(port, `PUT /framed HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\n${framing}\r\n\r\n`);
    expect(exchange.responses.map((r) => r.status)).toEqual([401]);
  });

  it('a body first read after the final head has gone out gets no 100 after it', async () => {
    const port = await listen(
      continueWhenBodyRead(
        createServer((req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.flushHeaders();
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => res.end(`read ${Buffer.concat(chunks).length}`));
        }),
      ),
    );
    const exchange = await rawExchange(
      port,
      `PUT /streamed HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello`,
    );
    expect(exchange.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(exchange.text).not.toContain('100 Continue');
    expect(exchange.responses.map((r) => [r.status, r.body])).toEqual([[200, 'read 5']]);
  });

  it('a refused client that uploads without waiting and reads once its upload is written still gets its refusal', async () => {
    const port = await listen(
      continueWhenBodyRead(
        createServer((_req, res) => {
          res.statusCode = 401;
          res.end('refused');
        }),
      ),
    );
    const size = 8_000_000;
    const outcome = await new Promise<{ text: string; error: string | undefined }>((resolve) => {
      let text = '';
      let error: string | undefined;
      void rawExchange(
        port,
        (socket) => {
          // reads nothing until its whole upload is written (or writing failed), like a simple blocking client
          socket.pause();
          socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code));
          socket.write(`PUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: ${size}\r\n\r\n`);
          socket.write(Buffer.alloc(size, 120), () => {
            socket.on('data', (d: string) => (text += d));
            socket.resume();
          });
          socket.once('close', () => resolve({ text, error }));
        },
        { giveUpMs: 5000 },
      ).catch(() => resolve({ text, error }));
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.text).toMatch(/^HTTP\/1\.1 401 /);
  });
});
