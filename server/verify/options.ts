import { normalizeOrigin } from '../../shared/htu.js';
import type { OptionNames } from '../../shared/options.js';
import type { TrustMatcher } from '../hints/trust-ranges.js';
import { forwardingHeaderReader, type ForwardingHeaderReader } from '../hints/forwarding-header.js';
import { protoHeaderReader, type ProtoHeaderOption, type ProtoHeaderReader } from '../hints/forwarded-proto.js';
import { isReplayStore, type ReplayStore } from '../stores/replay-store.js';
import { compileKeySource, type KeySource, type KeysOption } from './key-source.js';
import { createTicketVerifier, type IssuersOption, type TicketVerifier } from './ticket-verifier.js';
import type { VerifyPlatform } from './platform.js';
import type { KeySetFetchError } from './key-set-fetches.js';

export interface VerifierOptions {
  /** A JWK Set, or a function kid → key. */
  keys: KeysOption;
  /** Seconds a stamp stays valid after `iat`. Default 30. */
  maxAge?: number;
  /** Seconds of clock difference tolerated. Default 5. */
  skew?: number;
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Where (kid, jti) pairs are remembered. */
  replayStore: ReplayStore;
  /** What to do when the store cannot answer. Default `reject` (503 `store-unavailable`). */
  onStoreError?: 'reject' | 'accept';
  /** CIDRs or presets (`loopback`, `private`, `linklocal`, `uniquelocal`) of your proxies. Default: none. */
  trustedProxies?: string | readonly string[];
  /** The one forwarding header your trusted proxies write. Default `x-forwarded-for`. */
  forwardedHeader?: string;
  /** Attested ip ≠ observed: `reject` (default, 403 `ip-mismatch`) or `flag` (accept, agreement `mismatch`). */
  onMismatch?: 'reject' | 'flag';
  /** Observed address unknown: `reject` (default, 403 `ip-unverifiable`) or `accept` (agreement `unverifiable`). */
  onUnverifiable?: 'accept' | 'reject';
  /** Require a body digest (`cdg`) on every stamp. Default false. */
  requireBodyDigest?: boolean;
  /** Public origins (`https://api.example.com`) `htu` may name. Default: the request's Host header. */
  origins?: readonly string[];
  /**
   * The header your trusted proxies write the client's scheme into, for the Host-based origin:
   * `x-forwarded-proto`, `forwarded` (its `proto=`), or `false` (none). Default `forwarded` when
   * `forwardedHeader` is `forwarded`, else `x-forwarded-proto`. A PROXY v2 SSL TLV comes first.
   */
  protoHeader?: ProtoHeaderOption;
  /** Ticket issuers you trust (PROTOCOL.md §7): origin → JWK Set, or the URL of its issuer-jwks. */
  issuers?: IssuersOption;
  /**
   * Told, for an issuer given by URL, every fetch of its set that failed (`ERR_IPSTAMP_KEYS_FETCH`)
   * and every fetched set with keys that are not used (`ERR_IPSTAMP_KEYS_INVALID`, naming each);
   * `error.issuer` is the issuer's origin. A ticket under a key not held is `bad-ticket`.
   * Default: none (the Fastify plugin logs a warning).
   */
  onIssuerKeysError?: (error: KeySetFetchError) => void;
}

/** Every option of `VerifierOptions` by name: what a verifier's entry points refuse unknown keys by. */
export const VERIFIER_OPTION_NAMES: OptionNames<VerifierOptions> = Object.freeze({
  keys: true,
  maxAge: true,
  skew: true,
  now: true,
  replayStore: true,
  onStoreError: true,
  trustedProxies: true,
  forwardedHeader: true,
  onMismatch: true,
  onUnverifiable: true,
  requireBodyDigest: true,
  origins: true,
  protoHeader: true,
  issuers: true,
  onIssuerKeysError: true,
});

export interface CompiledOptions {
  readonly keySource: KeySource;
  readonly maxAge: number;
  readonly skew: number;
  readonly now: () => number;
  readonly replayStore: ReplayStore;
  readonly onStoreError: 'reject' | 'accept';
  readonly trust: TrustMatcher;
  readonly forwardedHeader: ForwardingHeaderReader;
  readonly onMismatch: 'reject' | 'flag';
  readonly onUnverifiable: 'accept' | 'reject';
  readonly requireBodyDigest: boolean;
  readonly origins: ReadonlySet<string> | undefined;
  /** Undefined when `protoHeader: false`. */
  readonly protoHeader: ProtoHeaderReader | undefined;
  /** Present when `issuers` is configured. */
  readonly verifyTicket: TicketVerifier | undefined;
  /** Signature checks, digests and bytes: node:crypto on Node, WebCrypto on the web (platform.ts). */
  readonly platform: VerifyPlatform;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw new TypeError(`${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function seconds(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 86_400) {
    throw new TypeError(`${name} must be a whole number of seconds from ${min} to 86400`);
  }
  return value;
}

/** Validates every option once, for one platform; a wrong one throws TypeError naming it. */
export function compileOptions(options: VerifierOptions, platform: VerifyPlatform): CompiledOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  if (!isReplayStore(options.replayStore)) throw new TypeError('replayStore must have insertIfAbsent(key, ttlMs)');
  if (options.onIssuerKeysError !== undefined && typeof options.onIssuerKeysError !== 'function') throw new TypeError('onIssuerKeysError must be a function');
  if (options.requireBodyDigest !== undefined && typeof options.requireBodyDigest !== 'boolean') {
    throw new TypeError('requireBodyDigest must be a boolean');
  }
  let origins: Set<string> | undefined;
  if (options.origins !== undefined) {
    if (!Array.isArray(options.origins) || options.origins.length === 0) throw new TypeError('origins must be a non-empty array of origins');
    // Array.from, not map: map skips a hole, which would reach the set as undefined unchecked
    origins = new Set(
      Array.from(options.origins as readonly unknown[], (o) => {
        const normalized = typeof o === 'string' ? normalizeOrigin(o) : undefined;
        if (!normalized) throw new TypeError('origins: each must be an http(s) origin like https://api.example.com');
        return normalized;
      }),
    );
  }
  const skew = seconds('skew', options.skew, 5, 0);
  // one family of headers by default: proxies that write Forwarded write its proto= too
  const forwardedOnly = typeof options.forwardedHeader === 'string' && options.forwardedHeader.toLowerCase() === 'forwarded';
  const protoHeader = protoHeaderReader(options.protoHeader === undefined ? (forwardedOnly ? 'forwarded' : 'x-forwarded-proto') : options.protoHeader);
  return {
    keySource: compileKeySource(options.keys, platform),
    maxAge: seconds('maxAge', options.maxAge, 30, 1),
    skew,
    now: options.now ?? Date.now,
    replayStore: options.replayStore,
    onStoreError: oneOf('onStoreError', options.onStoreError, ['reject', 'accept'], 'reject'),
    trust: platform.compileTrust(options.trustedProxies, 'trustedProxies'),
    forwardedHeader: forwardingHeaderReader(options.forwardedHeader, undefined, 'forwardedHeader'),
    onMismatch: oneOf('onMismatch', options.onMismatch, ['reject', 'flag'], 'reject'),
    onUnverifiable: oneOf('onUnverifiable', options.onUnverifiable, ['accept', 'reject'], 'reject'),
    requireBodyDigest: options.requireBodyDigest ?? false,
    origins,
    protoHeader,
    verifyTicket: options.issuers === undefined ? undefined : createTicketVerifier(options.issuers, skew, platform, options.onIssuerKeysError),
    platform,
  };
}

/**
 * What a verifier runs with, as a user may read it back (`verifier.settings`): plain, frozen
 * data with every default filled in — for a start line, a health page, a test. The compiled
 * machinery (key source, trust matcher, ticket check, store, clock) stays inside: a caller
 * that could reach it could change what the verifier accepts.
 */
export interface VerifierSettings {
  /** Seconds a stamp stays valid after `iat`. */
  readonly maxAge: number;
  /** Seconds of clock difference tolerated. */
  readonly skew: number;
  readonly onStoreError: 'reject' | 'accept';
  readonly onMismatch: 'reject' | 'flag';
  readonly onUnverifiable: 'accept' | 'reject';
  readonly requireBodyDigest: boolean;
  /** The trusted proxies as CIDRs, presets expanded (`loopback` → `127.0.0.0/8`, `::1/128`); empty when none. */
  readonly trustedProxies: readonly string[];
  /** The forwarding header read from trusted peers, lower case. */
  readonly forwardedHeader: string;
  /** The protocol header read from trusted peers, lower case, or false. */
  readonly protoHeader: 'x-forwarded-proto' | 'forwarded' | false;
  /** The configured origins, normalized; undefined when the Host header decides. */
  readonly origins: readonly string[] | undefined;
  /** The origins of the trusted ticket issuers; empty when tickets are not accepted. */
  readonly issuers: readonly string[];
}

/** The read-only view of compiled options (and the issuers' origins, which only the ticket check keeps). */
export function verifierSettings(opts: CompiledOptions, issuers: VerifierOptions['issuers']): VerifierSettings {
  return Object.freeze({
    maxAge: opts.maxAge,
    skew: opts.skew,
    onStoreError: opts.onStoreError,
    onMismatch: opts.onMismatch,
    onUnverifiable: opts.onUnverifiable,
    requireBodyDigest: opts.requireBodyDigest,
    trustedProxies: Object.freeze([...opts.trust.ranges]),
    forwardedHeader: opts.forwardedHeader.headerName,
    protoHeader: opts.protoHeader === undefined ? false : opts.protoHeader.headerName,
    origins: opts.origins === undefined ? undefined : Object.freeze([...opts.origins]),
    issuers: Object.freeze(issuers === undefined ? [] : Object.keys(issuers)),
  });
}
