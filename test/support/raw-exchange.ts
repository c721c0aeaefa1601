import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Agent, request } from 'undici';

/**
 * What the adapter tests that compare answers byte for byte share: one raw exchange read to the
 * server's close, the status lines in it, the answer without its `Date`, and a JSON request sent
 * from a chosen loopback address (a trusted proxy or a stranger).
 */

/** Writes `bytes` from `localAddress` and reads until the server closes (or resets): everything that came back. */
export function exchangeUntilClosed(port: number, bytes: string, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.write(bytes);
  });
}

/** The status lines of the answers in `received`, in order. */
export function statusLines(received: string): string[] {
  return received.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];
}

/** The answers in `received` without their `Date` lines, which differ by the second. */
export function withoutDates(received: string): string {
  return received.replace(/\r\ndate: [^\r]*/gi, '');
}

/** One request from `from` (default 127.0.0.1), its status and its body as JSON. */
export async function sendJson<T>(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {},
): Promise<{ status: number; json: T }> {
  const dispatcher = new Agent({ localAddress: options.from ?? '127.0.0.1' });
  try {
    const res = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body, dispatcher });
    return { status: res.statusCode, json: (await res.body.json()) as T };
  } finally {
    await dispatcher.close();
  }
}

/** Every byte the server sent on one connection (keep-alive off) for a request with this stamp: nothing more can follow. */
export function stampedOnce(origin: string, token: string, { method = 'GET', path = '/orders' } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}${path}`, { method, agent: false, headers: { 'client-ip-attestation': token } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
