import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import type { HttpAttackRequest, RawAttackRequest } from './catalog/types.js';
import type { Outcome } from './results.js';

/** How the harness talks to a target: requests out, one fresh connection each; outcomes in, read warily. */

/** Bodies are read up to this much: enough for any problem+json or verdict, bounded for a hostile target. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A response body as text, read no further than MAX_BODY_BYTES. */
export async function readBoundedText(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= MAX_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function codeOf(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR_ABORTED') return code;
    if ((e as { name?: unknown }).name === 'TimeoutError' || (e as { name?: unknown }).name === 'AbortError') return 'ETIMEDOUT';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failed exchange as an outcome: refused means unreachable; a reset, a close or garbage is `closed`. */
export function outcomeOfError(error: unknown): Outcome {
  const code = codeOf(error);
  if (code !== undefined && UNREACHABLE.has(code)) return { kind: 'unreachable', code };
  if (code !== undefined && TIMEOUT.has(code)) return { kind: 'timeout' };
  return { kind: 'closed' };
}

function lookup(body: Record<string, unknown>, key: string): unknown {
  if (key in body) return body[key];
  for (const wrapper of ['verdict', 'ipStamp', 'ipstamp']) {
    const inner = body[wrapper];
    if (typeof inner === 'object' && inner !== null && key in inner) return (inner as Record<string, unknown>)[key];
  }
  return undefined;
}

/**
 * The reason of a problem+json rejection (PROTOCOL.md §5: `reason`, or the `urn:ipstamp:` type)
 * and the agreement of an accepted verdict, when the body shows them.
 */
export function responseOutcome(status: number, bodyText: string): Outcome {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return { kind: 'response', status };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'response', status };
  const record = body as Record<string, unknown>;
  const type = record.type;
  const reasonValue = record.reason ?? (typeof type === 'string' && type.startsWith('urn:ipstamp:') ? type.slice(12) : undefined);
  const reason = typeof reasonValue === 'string' && /^[a-z-]{1,40}$/.test(reasonValue) ? reasonValue : undefined;
  const agreementValue = status >= 200 && status < 300 ? lookup(record, 'agreement') : undefined;
  const agreement = agreementValue === 'match' || agreementValue === 'mismatch' || agreementValue === 'unverifiable' ? agreementValue : undefined;
  // only a ticket is worth naming: it says the address came from an issuer, not the client (§7.4)
  const ticket = status >= 200 && status < 300 && lookup(record, 'source') === 'ticket';
  return {
    kind: 'response',
    status,
    ...(reason === undefined || status < 400 ? {} : { reason }),
    ...(agreement === undefined ? {} : { agreement }),
    ...(ticket ? { source: 'ticket' as const } : {}),
  };
}

/** An outcome in words, for a report: `401 replay`, `200 accepted (match)`, `connection closed`. */
export function describeOutcome(o: Outcome, timeoutMs: number): string {
  switch (o.kind) {
    case 'closed':
      return 'connection closed';
    case 'timeout':
      return `no answer in ${timeoutMs} ms`;
    case 'unreachable':
      return `unreachable (${o.code})`;
    case 'not-sent':
      return 'not sent (rate limit)';
    case 'response':
      if (o.status >= 200 && o.status < 300) {
        const shown = [o.agreement, o.source].filter((s) => s !== undefined);
        return `${o.status} accepted${shown.length > 0 ? ` (${shown.join(', ')})` : ''}`;
      }
      return `${o.status} ${o.reason ?? '(no reason)'}`;
  }
}

export interface TransportOptions {
  readonly timeoutMs: number;
  /** Source address for every connection (to play a given client on loopback). */
  readonly localAddress?: string;
  /** Extra CA certificates (PEM) for an https target signed by a private CA. */
  readonly ca?: string | Buffer;
  /** Asked before each request: a reason not to send it (the issuer's rate limit has no room), or undefined to send. */
  readonly gate?: (req: HttpAttackRequest | RawAttackRequest) => string | undefined;
}

/** Sends requests of both kinds; one per fresh connection, so no answer depends on an earlier one. */
export interface Transport {
  send(req: HttpAttackRequest | RawAttackRequest, target: URL): Promise<Outcome>;
  close(): Promise<void>;
}

export function createTransport(options: TransportOptions): Transport {
  const agentFrom = (localAddress: string | undefined): Agent =>
    new Agent({
      connect: { timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
  const agent = agentFrom(options.localAddress);
  // a request may play a proxy the target trusts: one agent per such address, made on first use
  const others = new Map<string, Agent>();
  const agentFor = (req: HttpAttackRequest): Agent => {
    if (req.localAddress === undefined || req.localAddress === options.localAddress) return agent;
    let other = others.get(req.localAddress);
    if (!other) others.set(req.localAddress, (other = agentFrom(req.localAddress)));
    return other;
  };
  return {
    send: async (req, target) => {
      const why = options.gate?.(req);
      if (why !== undefined) return { kind: 'not-sent', why };
      return req.kind === 'raw' ? sendRaw(req, target, options) : sendHttp(req, agentFor(req), options.timeoutMs);
    },
    close: async () => {
      await Promise.all([agent, ...others.values()].map((a) => a.close()));
    },
  };
}

/**
 * What the body held before it ended, failed or timed out (never more than MAX_BODY_BYTES).
 * Never throws: once the status line is in, the body cannot take the answer back.
 */
async function readBodyAnyway(body: AsyncIterable<unknown> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= MAX_BODY_BYTES) break;
    }
  } catch {
    body.destroy(); // cut off, reset or timed out: what came is all there is
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

async function sendHttp(req: HttpAttackRequest, agent: Agent, timeoutMs: number): Promise<Outcome> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      method: req.method as 'GET',
      headers: req.headers as Record<string, string | string[]>,
      body: req.body === undefined ? null : typeof req.body === 'string' ? req.body : Buffer.from(req.body),
      dispatcher: agent,
      reset: true,
      // bounds the body too: a body that never finishes ends here, and the status stands
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return outcomeOfError(error);
  }
  // a status line is an answer: a 2xx whose body is then cut off or never finishes was
  // accepted all the same (the handler ran on the forged request); only no status at all is
  // a close or a timeout
  return responseOutcome(res.statusCode, await readBodyAnyway(res.body));
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})/;

/** Reads what the peer sent before closing (or before the timeout) as one HTTP response. */
function parseRawResponse(data: Buffer): Outcome {
  const status = STATUS_LINE.exec(data.toString('latin1', 0, 16));
  if (!status) return { kind: 'closed' };
  const headEnd = data.indexOf('\r\n\r\n');
  let body = headEnd === -1 ? '' : data.subarray(headEnd + 4).toString('utf8');
  if (/\r\ntransfer-encoding:\s*chunked/i.test(data.toString('latin1', 0, headEnd === -1 ? data.length : headEnd))) {
    body = body.replace(/^[0-9a-fA-F]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '');
  }
  return responseOutcome(Number(status[1]), body);
}

/**
 * Writes `bytes` on a fresh TCP connection (in the clear, as a PROXY header travels), then —
 * for an https target — runs TLS over the same socket for anything after the header.
 */
function sendRaw(req: RawAttackRequest, target: URL, options: TransportOptions): Promise<Outcome> {
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const tls = target.protocol === 'https:';
  const port = Number(target.port || (tls ? 443 : 80));
  return new Promise<Outcome>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let stream: Socket;
    const finish = (outcome?: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tcp.destroy();
      stream?.destroy();
      resolve(outcome ?? (size === 0 ? { kind: 'closed' } : parseRawResponse(Buffer.concat(chunks))));
    };
    const timer = setTimeout(() => finish(size === 0 ? { kind: 'timeout' } : undefined), options.timeoutMs);
    const tcp = connectTcp({ host, port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    stream = tcp;
    const collect = (s: Socket): void => {
      s.on('data', (chunk: Buffer) => {
        if (size >= MAX_BODY_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
      });
      s.on('end', () => finish());
      s.on('close', () => finish());
    };
    tcp.on('error', (error) => finish(size === 0 ? outcomeOfError(error) : undefined));
    tcp.once('connect', () => {
      const connection = {
        localAddress: tcp.localAddress ?? '',
        localPort: tcp.localPort ?? 0,
        remoteAddress: tcp.remoteAddress ?? '',
        remotePort: tcp.remotePort ?? 0,
      };
      const head = typeof req.bytes === 'function' ? req.bytes(connection) : req.bytes;
      const http = typeof req.http === 'function' ? req.http(connection) : req.http;
      tcp.write(head);
      if (!tls) {
        if (http) tcp.write(http);
        collect(tcp);
        return;
      }
      tcp.on('close', () => finish());
      const secure = connectTls({
        socket: tcp,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      });
      secure.on('error', (error) => finish(size === 0 ? outcomeOfError(error) : undefined));
      secure.once('secureConnect', () => {
        if (http) secure.write(http);
      });
      stream = secure;
      collect(secure);
    });
  });
}
