import { ECHO_PATH } from '../shared/constants.js';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { parseStrictJsonObject } from '../shared/strict-json.js';
import { readBoundedText } from './bounded-body.js';
import { cachedAddress, checkTtl, type RefreshableAddressSource } from './cached-address.js';
import { IpStampClientError } from './client-error.js';
import { bodyStream, resolveFetch, type FetchLike, type ResponseLike } from './fetch-like.js';
import { perOriginAddress, sameAddressEverywhere, type PerOriginAddress } from './per-origin-address.js';

export const DEFAULT_ECHO_TTL_MS = 5 * 60_000;
export const DEFAULT_ECHO_TIMEOUT_MS = 10_000;
/** `{"ip":"<longest IPv6 text>"}` is under 60 bytes; anything far larger is not an echo answer. */
const MAX_ECHO_BYTES = 4096;

export interface EchoAddressOptions {
  /** The echo endpoint, e.g. `https://api.example.com/.well-known/ipstamp`. */
  url: string | URL;
  /** The fetch the echo request goes through: use the same one (same dispatcher, same proxy) as the stamped requests. */
  fetch?: FetchLike<ResponseLike>;
  /** How long a learned address is reused. Default 5 minutes. */
  ttlMs?: number;
  /** Abort the echo request after this long. Default 10 s. */
  timeoutMs?: number;
  now?: () => number;
}

const ECHO_ADDRESS_OPTION_NAMES: OptionNames<EchoAddressOptions> = Object.freeze({ url: true, fetch: true, ttlMs: true, timeoutMs: true, now: true });

function echoUrlOf(value: unknown): URL {
  let url: URL | undefined;
  try {
    url = new URL(value as string | URL);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new TypeError('echoUrl must be an absolute http(s) URL');
  return url;
}

/**
 * The address one verifier observes for this client (`obs: "echo"`), learned from its
 * `GET /.well-known/ipstamp`, cached for `ttlMs`, shared by concurrent callers.
 */
export function echoAddress(options: EchoAddressOptions): RefreshableAddressSource {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, ECHO_ADDRESS_OPTION_NAMES);
  const url = echoUrlOf(options.url).href;
  const fetchFn = resolveFetch<ResponseLike>('fetch', options.fetch);
  const ttlMs = checkTtl('ttlMs', options.ttlMs, DEFAULT_ECHO_TTL_MS);
  const timeoutMs = checkTtl('timeoutMs', options.timeoutMs, DEFAULT_ECHO_TIMEOUT_MS);

  const failed = (cause?: unknown) => new IpStampClientError('ERR_IPSTAMP_ECHO_FAILED', cause === undefined ? undefined : { cause });

  async function load(): Promise<string> {
    let text: string | undefined;
    try {
      const response = await fetchFn(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        // A redirect would ask some other server what it sees; cookies have no business here.
        redirect: 'error',
        credentials: 'omit',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) {
        await bodyStream(response)
          ?.cancel()
          .catch(() => undefined);
        throw failed();
      }
      text = await readBoundedText(bodyStream(response), MAX_ECHO_BYTES);
    } catch (error) {
      throw error instanceof IpStampClientError ? error : failed(error);
    }
    const ip = text === undefined ? undefined : parseStrictJsonObject(text)?.ip;
    if (typeof ip !== 'string') throw failed();
    return ip;
  }

  return cachedAddress('echo', load, failed, { ttlMs, now: options.now });
}

/** The echo URL of the verifier at `origin`. */
export function echoUrlFor(origin: string): string {
  return `${origin}${ECHO_PATH}`;
}

export interface EchoPerOriginOptions extends Omit<EchoAddressOptions, 'url'> {
  /** One echo endpoint for every origin. Default: each origin's own `/.well-known/ipstamp`. */
  url?: string | URL | undefined;
}

/** `ip: 'echo'`: one echo source per target origin, or a single one at a configured URL. */
export function echoAddressPerOrigin(options: EchoPerOriginOptions = {}): PerOriginAddress {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, ECHO_ADDRESS_OPTION_NAMES);
  const { url, ...rest } = options;
  if (url !== undefined) return sameAddressEverywhere(echoAddress({ ...rest, url }));
  // Checked now, so a wrong option fails at setup rather than on the first request.
  resolveFetch('fetch', rest.fetch);
  checkTtl('ttlMs', rest.ttlMs, 0);
  checkTtl('timeoutMs', rest.timeoutMs, 0);
  return perOriginAddress((origin) => echoAddress({ ...rest, url: echoUrlFor(origin) }));
}
