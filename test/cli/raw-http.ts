import { expect } from 'vitest';
import { connect, type Socket } from 'node:net';

/** One HTTP response as bytes on the wire, split into its parts (header names lower-cased, in order). */
export interface RawResponse {
  readonly statusLine: string;
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

export function header(response: RawResponse, name: string): string | undefined {
  return response.headers.find(([n]) => n === name)?.[1];
}

/** Splits `text` into the responses it holds (Content-Length, chunked, or to the end). */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers = lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    });
    rest = rest.slice(end + 4);
    let body = '';
    const status = Number(statusLine.split(' ')[1]);
    if (status < 200) {
      // an interim answer (100 Continue) has no body
      responses.push({ statusLine, status, headers, body });
      continue;
    }
    const length = headers.find(([n]) => n === 'content-length')?.[1];
    if (length !== undefined) {
      body = rest.slice(0, Number(length));
      rest = rest.slice(Number(length));
    } else if (headers.some(([n, v]) => n === 'transfer-encoding' && v.includes('chunked'))) {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = lineEnd < 0 ? NaN : parseInt(rest.slice(0, lineEnd), 16);
        if (Number.isNaN(size) || rest.length < lineEnd + 2 + size) {
          // cut off in the middle (the connection closed): what arrived, marked
          body += `${rest.slice(lineEnd < 0 ? 0 : lineEnd + 2)}\n[cut off]`;
          rest = '';
          break;
        }
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          // trailers, then the empty line
          const trailersEnd = rest.indexOf('\r\n\r\n');
          const trailers = rest.slice(0, trailersEnd < 0 ? 0 : trailersEnd);
          if (trailers.length > 0) body += `\n[trailers] ${trailers}`;
          rest = trailersEnd < 0 ? rest.slice(2) : rest.slice(trailersEnd + 4);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      body = rest;
      rest = '';
    }
    responses.push({ statusLine, status, headers, body });
  }
  return responses;
}

export interface RawExchange {
  /** Everything the server sent. */
  readonly text: string;
  /** Did the server close the connection (true), or was it still open when we gave up (false)? */
  readonly closed: boolean;
  readonly responses: RawResponse[];
}

/**
 * Writes `request` as bytes and reads until the server closes the connection; a connection
 * still open after `giveUpMs` is reported as `closed: false` (a hang, bounded). A socket error
 * rejects, unless `resetIsClose`: then a server that resets the connection (closing with bytes
 * unread) has closed it, and what it sent before is the answer.
 */
export function rawExchange(
  port: number,
  request: string | Buffer | ((socket: Socket) => void),
  { giveUpMs = 5000, localAddress, resetIsClose = false }: { giveUpMs?: number; localAddress?: string; resetIsClose?: boolean } = {},
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, responses: parseResponses(text) });
    };
    const timer = setTimeout(() => finish(false), giveUpMs);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.once('error', (error) => {
      if (resetIsClose) return; // 'close' follows
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', () => finish(true));
    socket.once('connect', () => {
      if (typeof request === 'function') request(socket);
      else socket.write(request);
    });
  });
}

/**
 * The final answer of an exchange whose connection the server must keep: it says nothing of
 * closing (`Connection: close`) and the connection was still open when the client gave up.
 */
export function finalOnKeptConnection(exchange: RawExchange): RawResponse {
  const final = exchange.responses.find((r) => r.status >= 200);
  expect(final, exchange.text).toBeDefined();
  expect(header(final!, 'connection')).not.toBe('close');
  expect(exchange.closed).toBe(false);
  return final!;
}

export interface ContinueExchange {
  /** Did a `100 Continue` come before the final answer? */
  readonly continued: boolean;
  /** Did the client send its body (it does only after a `100`)? */
  readonly bodySent: boolean;
  readonly final: RawResponse | undefined;
  readonly closed: boolean;
}

/**
 * A client that sends `Expect: 100-continue` and waits for `100 Continue` before it sends its
 * body, and never sends it otherwise (RFC 9110 §10.1.1). `close` asks for the connection to
 * close after the answer; without it, `closed` says whether the server closed it (within a
 * second).
 */
export async function continueExchange(
  port: number,
  {
    path,
    body,
    headers = [],
    close = true,
    method = 'PUT',
    contentType = 'text/plain',
  }: { path: string; body: string; headers?: string[]; close?: boolean; method?: string; contentType?: string },
): Promise<ContinueExchange> {
  let bodySent = false;
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Expect: 100-continue',
    ...(close ? ['Connection: close'] : []),
    `Content-Type: ${contentType}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...headers,
  ];
  const exchange = await rawExchange(
    port,
    (socket) => {
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      let seen = '';
      socket.on('data', (d: string) => {
        seen += d;
        if (!bodySent && seen.startsWith('HTTP/1.1 100')) {
          bodySent = true;
          socket.write(body);
        }
      });
    },
    { giveUpMs: close ? 5000 : 1000 },
  );
  const final = exchange.responses.find((r) => r.status >= 200);
  return { continued: exchange.responses[0]?.status === 100, bodySent, final, closed: exchange.closed };
}

/** A request's header lines as an upstream received them: [name, value], names lower-cased, in order. */
export function headerLines(rawHeaders: readonly string[]): [string, string][] {
  const lines: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) lines.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  return lines;
}

/**
 * The `X-Attested-Client-IP*` lines among `lines`, by name, in any spelling the weakest upstream
 * reads as one of them (CGI reads every character but a letter or digit as `-`).
 */
export function attestedLines(lines: readonly (readonly [string, string])[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of lines)
    if (
      name
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '-')
        .startsWith('x-attested-client-ip')
    )
      (out[name] ??= []).push(value);
  return out;
}
