import type { Dispatcher } from 'undici';
import { normalizeOrigin } from '../shared/htu.js';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { STAMP_HEADER } from '../shared/constants.js';
import { IpStampClientError } from './client-error.js';
import { fetchThrough } from './echo-dispatcher.node.js';
import { headerValue, withHeader } from './dispatch-headers.node.js';
import { RefusalObserver, type ObservedRefusal } from './refusal-observer.node.js';
import { resolveNodeAddressOption, type NodeAddressOption } from './node-address-option.node.js';
import { createRequestStamper, stampedAddress } from './request-stamper.js';
import { createServerClocks, learningFetch, parseHttpDate } from './server-clock.js';
import type { StampKeyInput } from './signing-key.js';
import { checkEchoOnlyOptions } from './stamped-fetch.js';

export interface StampInterceptorOptions {
  key: StampKeyInput;
  /** A literal, `'echo'` (asked through the same dispatcher), `'socket'`, an AddressSource or a PerOriginAddress. */
  ip: NodeAddressOption;
  /** Sign a SHA-256 of the body. Works for string and byte bodies; streams (and fetch's bodies) fail with `ERR_IPSTAMP_BODY_NOT_DIGESTIBLE`. */
  bodyDigest?: boolean;
  echoUrl?: string | URL;
  echoTtlMs?: number;
  localAddress?: string;
  socketTtlMs?: number;
  /** The origin of dispatches that carry none (a `Client` or `Pool` composed directly). */
  origin?: string | URL;
  now?: () => number;
  /** How far the signing time may move to the server's (learned from its clock refusals and echo). Default 300000 (5 min); 0: off. */
  maxClockCorrectionMs?: number;
}

const INTERCEPTOR_OPTION_NAMES: OptionNames<StampInterceptorOptions> = Object.freeze({
  key: true,
  ip: true,
  bodyDigest: true,
  echoUrl: true,
  echoTtlMs: true,
  localAddress: true,
  socketTtlMs: true,
  origin: true,
  now: true,
  maxClockCorrectionMs: true,
});

const encoder = new TextEncoder();

function dispatchBodyBytes(body: unknown): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  throw new IpStampClientError('ERR_IPSTAMP_BODY_NOT_DIGESTIBLE');
}

function defaultOrigin(value: unknown): URL | undefined {
  if (value === undefined) return undefined;
  const origin = typeof value === 'string' || value instanceof URL ? normalizeOrigin(String(value)) : undefined;
  if (origin === undefined) throw new TypeError('origin must be an http(s) origin such as https://api.example.com');
  return new URL(origin);
}

function reportError(handler: Dispatcher.DispatchHandler, error: unknown): void {
  const err = error instanceof Error ? error : new Error('dispatch failed', { cause: error });
  // As undici's dns interceptor does: no request was started, so there is no controller yet.
  if (handler.onResponseError) handler.onResponseError(null as unknown as Dispatcher.DispatchController, err);
  else handler.onError?.(err);
}

/**
 * An undici interceptor that stamps every dispatch it sees. Compose it *before* (inside)
 * `retry` and `redirect`, so each attempt and each hop passes through it and gets a fresh
 * stamp for its own URL:
 * `agent.compose(ipstampInterceptor(opts), interceptors.retry(), interceptors.redirect())`.
 * The dispatch options are copied, never changed.
 */
export function ipstampInterceptor(options: StampInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, INTERCEPTOR_OPTION_NAMES);
  // before checkEchoOnlyOptions, whose "ip: 'ticket' needs issuer" would send the caller to an option the interceptor refuses
  if (options.ip === 'ticket') throw new TypeError("ip: 'ticket' is not supported by ipstampInterceptor: use createStampedFetch");
  checkEchoOnlyOptions(options);
  const stamper = createRequestStamper({ key: options.key, bodyDigest: options.bodyDigest, now: options.now });
  const clocks = createServerClocks({ now: options.now, maxCorrectionMs: options.maxClockCorrectionMs });
  const fallbackOrigin = defaultOrigin(options.origin);
  const socket = { localAddress: options.localAddress, socketTtlMs: options.socketTtlMs };
  // Fails now on a wrong option; each composed chain gets its own sources below.
  resolveNodeAddressOption(options.ip, { echoUrl: options.echoUrl, echoTtlMs: options.echoTtlMs, now: options.now }, socket);

  return (dispatch) => {
    const addresses = resolveNodeAddressOption(
      options.ip,
      { echoUrl: options.echoUrl, echoTtlMs: options.echoTtlMs, fetch: learningFetch(fetchThrough(dispatch), clocks), now: options.now },
      socket,
    );

    async function stamped(opts: Dispatcher.DispatchOptions) {
      const origin = opts.origin === undefined ? fallbackOrigin : new URL(opts.origin);
      if (origin === undefined) throw new IpStampClientError('ERR_IPSTAMP_NO_ORIGIN');
      // The server binds htu to the Host it receives, which a caller may set apart from the origin it connects to.
      const host = headerValue(opts.headers, 'host');
      const htuOrigin = (host === undefined ? undefined : normalizeOrigin(`${origin.protocol}//${host}`)) ?? normalizeOrigin(origin.origin);
      if (htuOrigin === undefined) throw new IpStampClientError('ERR_IPSTAMP_NO_ORIGIN');
      // The path exactly as undici sends it: URL parsing would resolve dot segments the server still sees.
      const path = opts.path.split(/[?#]/, 1)[0] ?? '';
      const htu = `${htuOrigin}${path}`;
      const method = opts.method.toUpperCase() as Dispatcher.HttpMethod;
      const source = addresses.sourceFor(origin.origin);
      const body = stamper.bodyDigest ? dispatchBodyBytes(opts.body) : undefined;
      const token = await stamper.stamp(source, { method, url: htu, body, claims: { htu }, now: () => clocks.now(origin.origin) });
      return { token, source, clockOrigin: origin.origin, opts: { ...opts, method, headers: withHeader(opts.headers, STAMP_HEADER, token) } };
    }

    return function ipstampIntercept(opts, handler) {
      stamped(opts).then(
        ({ token, source, clockOrigin, opts: sent }) => {
          const sentAt = clocks.local();
          // the next request learns from this one's refusal: a fresh address, or the server's time
          const onRefusal = (refusal: ObservedRefusal) => {
            if (refusal.status === 403 && refusal.reason === 'ip-mismatch') source.invalidate?.(stampedAddress(token));
            if (refusal.status === 401 && (refusal.reason === 'expired' || refusal.reason === 'not-yet-valid')) {
              clocks.learn(clockOrigin, parseHttpDate(refusal.date), sentAt, refusal.receivedAt);
            }
          };
          const observed = new RefusalObserver(handler, onRefusal, clocks.local);
          try {
            dispatch(sent, observed);
          } catch (error) {
            reportError(handler, error);
          }
        },
        (error: unknown) => reportError(handler, error),
      );
      return true;
    };
  };
}
