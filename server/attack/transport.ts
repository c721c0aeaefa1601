import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { Agent, request } from 'undici';
import { MAX_BODY_BYTES, outcomeOfError, responseOutcome } from './response-reading.js';
import type { HttpAttackRequest, Outcome, RawAttackRequest } from './types.js';

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

async function sendHttp(req: HttpAttackRequest, agent: Agent, timeoutMs: number): Promise<Outcome> {
  try {
    const res = await request(req.url, {
      method: req.method as 'GET',
      headers: req.headers as Record<string, string | string[]>,
      body: req.body === undefined ? null : typeof req.body === 'string' ? req.body : Buffer.from(req.body),
      dispatcher: agent,
      reset: true,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      size += buf.length;
      if (size >= MAX_BODY_BYTES) break;
    }
    return responseOutcome(res.statusCode, Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8'));
  } catch (error) {
    return outcomeOfError(error);
  }
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
