import { normalizeOrigin } from '../../shared/htu.js';
import type { IpStampPluginOptions } from '../fastify/options.js';
import { choiceFlag, integerFlag, listFlag, requiredStringFlag, stringFlag, trustFlag } from './flag-values.js';
import { loadIssuerKeyFile, loadIssuersFile, loadKeysFile } from './load-keys.js';
import { parseFlags } from './parse-flags.js';
import { parseUpstreamUrl, type UpstreamTarget } from './upstream-target.js';
import { UsageError } from './usage-error.js';

export const SERVE_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  keys: { type: 'string' },
  'trusted-proxies': { type: 'string', multiple: true },
  'proxy-protocol': { type: 'boolean' },
  'forwarded-header': { type: 'string' },
  'proto-header': { type: 'string' },
  'max-age': { type: 'string' },
  skew: { type: 'string' },
  'on-mismatch': { type: 'string' },
  'on-unverifiable': { type: 'string' },
  'require-body-digest': { type: 'boolean' },
  origin: { type: 'string', multiple: true },
  'cors-origin': { type: 'string', multiple: true },
  'replay-store': { type: 'string' },
  'store-timeout': { type: 'string' },
  'on-store-error': { type: 'string' },
  'issuer-key': { type: 'string' },
  'issuer-origin': { type: 'string' },
  'ticket-lifetime': { type: 'string' },
  'ticket-rate-limit': { type: 'string' },
  issuers: { type: 'string' },
  upstream: { type: 'string' },
  'upstream-timeout': { type: 'string' },
  'body-limit': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly keysFile: string;
  readonly keyCount: number;
  /** The verifier's options, as the plugin takes them (minus the replay store, opened later). */
  readonly verifier: Omit<IpStampPluginOptions, 'replayStore'>;
  readonly trustedRanges: readonly string[];
  readonly proxyProtocol: boolean;
  readonly replayStore: string;
  readonly storeTimeoutMs: number | undefined;
  /** Issuers this verifier trusts for tickets (count, for the start line). */
  readonly issuerCount: number;
  /** Set when this instance is itself a ticket issuer. */
  readonly issuing: boolean;
  readonly upstream: UpstreamTarget | undefined;
  /** With --upstream: longest wait for the upstream (connect, response head, between body chunks). */
  readonly upstreamTimeoutMs: number;
  /** Origins whose pages may call (`--cors-origin`): serve then answers CORS itself. */
  readonly corsOrigins: readonly string[];
  readonly bodyLimit: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

function upstreamTarget(raw: string | undefined): UpstreamTarget | undefined {
  if (raw === undefined) return undefined;
  const target = parseUpstreamUrl(raw);
  if (target === undefined) throw new UsageError('--upstream must be an http(s) URL such as http://127.0.0.1:3000 or http://127.0.0.1:3000/api (no query)');
  return target;
}

function upstreamTimeoutMs(values: Parameters<typeof integerFlag>[0]): number {
  if (values['upstream-timeout'] !== undefined && values.upstream === undefined) throw new UsageError('--upstream-timeout goes with --upstream');
  return (integerFlag(values, 'upstream-timeout', 1, 3600) ?? 60) * 1000;
}

/** Every flag checked here, each failure a one-line UsageError naming the flag (exit 2). */
export function readServeConfig(argv: string[]): ServeConfig {
  const { values } = parseFlags(argv, SERVE_FLAGS);
  const issuersFile = stringFlag(values, 'issuers');
  const issuers = issuersFile === undefined ? undefined : loadIssuersFile(issuersFile);
  // a verifier that only takes tickets needs no key file of its own
  const keysFile = issuers ? stringFlag(values, 'keys') : requiredStringFlag(values, 'keys', 'FILE (a JWK Set)');
  const keys = keysFile === undefined ? { jwks: { keys: [] }, count: 0 } : loadKeysFile(keysFile);
  const issuerKeyFile = stringFlag(values, 'issuer-key');
  const issuerOrigin = stringFlag(values, 'issuer-origin');
  if (issuerOrigin !== undefined && normalizeOrigin(issuerOrigin) === undefined) {
    throw new UsageError('--issuer-origin must be an http(s) origin such as https://edge.example.com');
  }
  if (issuerKeyFile === undefined && (issuerOrigin !== undefined || values['ticket-lifetime'] !== undefined || values['ticket-rate-limit'] !== undefined)) {
    throw new UsageError('--issuer-origin, --ticket-lifetime and --ticket-rate-limit go with --issuer-key');
  }
  const rate = integerFlag(values, 'ticket-rate-limit', 0, 1_000_000);
  const issuer =
    issuerKeyFile === undefined
      ? undefined
      : {
          key: loadIssuerKeyFile(issuerKeyFile),
          origin: issuerOrigin,
          lifetime: integerFlag(values, 'ticket-lifetime', 1, 600),
          rateLimit: rate === 0 ? (false as const) : rate,
        };
  const trusted = listFlag(values, 'trusted-proxies') ?? [];
  const trustedRanges = trustFlag(trusted, 'trusted-proxies').ranges;
  const proxyProtocol = values['proxy-protocol'] === true;
  if (proxyProtocol && trustedRanges.length === 0) {
    throw new UsageError('--proxy-protocol needs --trusted-proxies (the peers allowed to send a PROXY header)');
  }
  const forwardedHeader = stringFlag(values, 'forwarded-header');
  if (forwardedHeader !== undefined && !HEADER_NAME.test(forwardedHeader)) throw new UsageError('--forwarded-header must be an HTTP header name');
  const protoHeader = choiceFlag(values, 'proto-header', ['x-forwarded-proto', 'forwarded', 'none'] as const);
  const origins = listFlag(values, 'origin')?.map((o) => {
    const normalized = normalizeOrigin(o);
    if (normalized === undefined) throw new UsageError('--origin must be an http(s) origin such as https://api.example.com');
    return normalized;
  });
  const corsOrigins = (listFlag(values, 'cors-origin') ?? []).map((o) => {
    const normalized = normalizeOrigin(o);
    if (normalized === undefined) throw new UsageError('--cors-origin must be the origin of a page, such as https://app.example.com (no path, no *)');
    return normalized;
  });
  const verifier: Omit<IpStampPluginOptions, 'replayStore'> = {
    keys: keys.jwks,
    trustedProxies: trusted,
    forwardedHeader,
    protoHeader: protoHeader === 'none' ? false : protoHeader,
    maxAge: integerFlag(values, 'max-age', 1, 86_400),
    skew: integerFlag(values, 'skew', 0, 86_400),
    onMismatch: choiceFlag(values, 'on-mismatch', ['reject', 'flag'] as const),
    onUnverifiable: choiceFlag(values, 'on-unverifiable', ['accept', 'reject'] as const),
    requireBodyDigest: values['require-body-digest'] === true,
    onStoreError: choiceFlag(values, 'on-store-error', ['reject', 'accept'] as const),
    origins,
    issuers: issuers?.issuers,
    issuer,
  };
  return {
    host: stringFlag(values, 'host') ?? '127.0.0.1',
    port: integerFlag(values, 'port', 0, 65_535) ?? 8080,
    keysFile: keysFile ?? '(none: tickets only)',
    keyCount: keys.count,
    issuerCount: issuers?.count ?? 0,
    issuing: issuer !== undefined,
    storeTimeoutMs: integerFlag(values, 'store-timeout', 1, 60_000),
    verifier,
    trustedRanges,
    proxyProtocol,
    replayStore: stringFlag(values, 'replay-store') ?? 'memory',
    upstream: upstreamTarget(stringFlag(values, 'upstream')),
    upstreamTimeoutMs: upstreamTimeoutMs(values),
    corsOrigins,
    bodyLimit: integerFlag(values, 'body-limit', 0, 1 << 30) ?? 1_048_576,
    logLevel: choiceFlag(values, 'log-level', LOG_LEVELS) ?? 'info',
  };
}
