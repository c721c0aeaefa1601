import { createServer, type RequestListener, type Server as HttpServer, type ServerOptions } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { hintAddress } from '../../shared/address.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import type { ProxyHeader } from './proxy-header.js';
import { checkMaxHeaderBytes, detectProxySignature, ProxyHeaderParser } from './proxy-protocol.js';
import { isProxyProtocolError, type ProxyProtocolErrorDetail } from './proxy-protocol-error.js';
import { compileTrust, type TrustMatcher } from './trust.js';

export interface ProxyProtocolOptions {
  /** Peers allowed to send a PROXY header: a compiled matcher, or CIDRs / presets. */
  trustedProxies: TrustMatcher | string | readonly string[];
  /** For trusted peers: `required` (default) closes a connection without a header; `optional` serves it as plain HTTP. */
  proxyProtocol?: 'required' | 'optional';
  /** The header (or, from an untrusted peer, enough bytes to tell) must arrive within this. Default 5000. */
  timeoutMs?: number;
  /** Cap on a v2 header's size: default 65,551, all the spec's 16-bit length allows; lower it explicitly. v1 is capped at 107 by the spec. */
  maxHeaderBytes?: number;
  /** Told of every connection this layer closes (not of a peer's own reset or FIN): a reason code and the peer, never the bytes. */
  onReject?: (event: ProxyRejectEvent) => void;
}

export type ProxyRejectReason = 'untrusted-header' | 'missing-header' | 'invalid-header' | 'timeout';

export interface ProxyRejectEvent {
  readonly reason: ProxyRejectReason;
  /** With `invalid-header`: which rule the header broke. */
  readonly detail?: ProxyProtocolErrorDetail;
  readonly remoteAddress: string | undefined;
}

const headers = new WeakMap<Socket, ProxyHeader>();

/** The PROXY header the connection began with, for every request on it; undefined if none. */
export function proxyHeaderOf(socket: Socket | null | undefined): ProxyHeader | undefined {
  return socket ? headers.get(socket) : undefined;
}

interface Settings {
  readonly trust: TrustMatcher;
  readonly required: boolean;
  readonly timeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly onReject: ((event: ProxyRejectEvent) => void) | undefined;
}

const PROXY_PROTOCOL_OPTION_NAMES: OptionNames<ProxyProtocolOptions> = Object.freeze({
  trustedProxies: true,
  proxyProtocol: true,
  timeoutMs: true,
  maxHeaderBytes: true,
  onReject: true,
});

/** `createProxyProtocolServer` takes the server's own options beside them. */
const PROXY_SERVER_OPTION_NAMES: OptionNames<ProxyProtocolOptions & { http?: ServerOptions }> = Object.freeze({ ...PROXY_PROTOCOL_OPTION_NAMES, http: true });

function checkOptions(options: ProxyProtocolOptions, names: Readonly<Record<string, true>> = PROXY_PROTOCOL_OPTION_NAMES): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, names);
  const { trustedProxies, proxyProtocol = 'required', timeoutMs = 5000, onReject } = options;
  const trust =
    typeof trustedProxies === 'object' && trustedProxies !== null && 'contains' in trustedProxies
      ? trustedProxies
      : compileTrust(trustedProxies as string | readonly string[]);
  if (proxyProtocol !== 'required' && proxyProtocol !== 'optional') {
    throw new TypeError("proxyProtocol must be 'required' or 'optional'");
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new TypeError('timeoutMs must be an integer from 1 to 600000');
  }
  if (onReject !== undefined && typeof onReject !== 'function') throw new TypeError('onReject must be a function');
  const maxHeaderBytes = checkMaxHeaderBytes(options.maxHeaderBytes);
  return { trust, required: proxyProtocol === 'required', timeoutMs, maxHeaderBytes, onReject };
}

/**
 * Puts the PROXY protocol in front of a server's own connection handling: every accepted
 * socket is held (reading only) until its first bytes are settled, then given to the
 * 'connection' listeners the server had at install time — for `http.Server`, its HTTP
 * parser — with the bytes after the header put back. Listeners added later see sockets
 * before they are vetted. For plain HTTP/1.1 servers (`http.Server`, or a `net.Server`):
 * not for `https`/`http2` servers, whose TLS layer reads the socket before the header
 * could be taken off — terminate TLS at the proxy. Given one, a TypeError.
 */
export function installProxyProtocol<S extends NetServer>(server: S, options: ProxyProtocolOptions): S {
  return install(server, checkOptions(options));
}

/** Servers a PROXY layer sits on: a second layer would wait for a second header, which no proxy sends. */
const layered = new WeakSet<NetServer>();

/**
 * A TLS server (node:https, node:http2's secure one) or node:http2's cleartext one reads its
 * sockets through their handles, so the bytes put back behind the header never reach it: every
 * connection would fail its handshake. Told by what only they have (this part imports neither).
 */
function readsSocketsItself(server: NetServer): boolean {
  const methods = server as { setSecureContext?: unknown; updateSettings?: unknown };
  return typeof methods.setSecureContext === 'function' || typeof methods.updateSettings === 'function';
}

function install<S extends NetServer>(server: S, settings: Settings): S {
  if (readsSocketsItself(server)) {
    throw new TypeError(
      'the PROXY protocol layer is for plain HTTP/1.1 servers, not TLS or HTTP/2 ones, which would fail every connection: terminate TLS at the proxy',
    );
  }
  if (layered.has(server)) throw new TypeError('the PROXY protocol is already installed on this server: a second layer would close every connection');
  layered.add(server);
  const downstream = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => vetConnection(server, socket, settings, downstream));
  return server;
}

/** `http.createServer` with the PROXY protocol installed; fits Fastify's `serverFactory`. */
export function createProxyProtocolServer(handler: RequestListener | undefined, options: ProxyProtocolOptions & { http?: ServerOptions }): HttpServer {
  const settings = checkOptions(options, PROXY_SERVER_OPTION_NAMES);
  return install(createServer(options.http ?? {}, handler), settings);
}

function vetConnection(server: NetServer, socket: Socket, settings: Settings, downstream: readonly ((socket: Socket) => void)[]): void {
  const remoteAddress = socket.remoteAddress; // gone once the socket is destroyed
  const peer = hintAddress(remoteAddress ?? '');
  const trusted = peer !== undefined && settings.trust.contains(peer);
  const parser = trusted ? new ProxyHeaderParser({ maxHeaderBytes: settings.maxHeaderBytes }) : undefined;
  let head: Buffer | undefined; // untrusted peer: the few bytes seen while still undecided
  let received = false;

  const settle = (): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('error', onError);
    socket.removeListener('close', onClose);
    socket.removeListener('end', onEnd);
  };
  const drop = (): void => {
    settle();
    socket.on('error', ignore); // a late ECONNRESET must not become an uncaught error
    socket.destroy();
  };
  const reject = (reason: ProxyRejectReason, detail?: ProxyProtocolErrorDetail): void => {
    drop();
    try {
      settings.onReject?.({ reason, detail, remoteAddress });
    } catch {
      // a logging hook must not let a hostile peer take the server down
    }
  };
  const handOver = (rest: Buffer): void => {
    settle();
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    for (const listener of downstream) listener.call(server, socket);
    // the HTTP server reads through its own parser and never resumes a paused socket
    socket.resume();
  };
  const onData = (chunk: Buffer): void => {
    received = true;
    if (parser === undefined) return untrustedData(chunk);
    let step;
    try {
      step = parser.push(chunk);
    } catch (error) {
      return reject('invalid-header', isProxyProtocolError(error) ? error.detail : undefined);
    }
    if (step.state === 'need-more') return;
    if (step.state === 'not-proxy') return settings.required ? reject('missing-header') : handOver(step.rest);
    headers.set(socket, step.header);
    handOver(step.rest);
  };
  const untrustedData = (chunk: Buffer): void => {
    const data = head === undefined ? chunk : Buffer.concat([head, chunk]);
    const kind = detectProxySignature(data);
    if (kind === 'not-proxy') return handOver(data);
    if (kind !== 'undecided') return reject('untrusted-header');
    head = data; // shorter than the 12-byte v2 signature
  };
  // a reset is the peer's business, not a rejection; a proxy's FIN inside its header is
  const onError = (): void => drop();
  const onEnd = (): void => (parser !== undefined && received ? reject('invalid-header', 'truncated') : drop());
  const onClose = (): void => settle();
  // absolute, not idle: a peer trickling one byte at a time gains nothing
  const timer = setTimeout(() => reject('timeout'), settings.timeoutMs);
  timer.unref();

  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('end', onEnd);
}

function ignore(): void {}
