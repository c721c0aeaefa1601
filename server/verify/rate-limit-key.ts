import { formatIPv6, hintAddress, parseIPv6 } from '../../shared/address.js';
import type { NetworkHints, Verdict, VerifyResult } from './types.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';

export interface RateLimitKeyOptions {
  /**
   * IPv6 addresses are grouped to this prefix length (1–128), default 64: one subscriber or
   * host is usually handed a whole /64, so keying on the full address lets it rotate through
   * 2⁶⁴ budgets. IPv4 (and IPv4-mapped IPv6) is keyed on the full address.
   */
  ipv6Prefix?: number;
}

/** What the key is worked out from: a verdict (`request.ipStamp`), a verify result, or the network hints alone. */
export type RateLimitKeySource = Verdict | VerifyResult | NetworkHints | null | undefined;

/** The key of every request whose address is unknown: they share one budget (fail closed). */
const UNKNOWN_RATE_LIMIT_KEY = 'unknown';

/**
 * The key a rate limiter should count a request under: its address as far as it is known,
 * IPv6 grouped to a prefix.
 *
 * - A verdict's `ip` only when the network confirmed it (`agreement` `match`), or when a ticket
 *   vouches for it (the issuer observed it at the edge) and this verifier cannot see the
 *   address (`unverifiable`). A stamp accepted as `mismatch` (`onMismatch: 'flag'`) or
 *   `unverifiable` (`onUnverifiable: 'accept'`) carries an address its key holder chose:
 *   keying on it would let one client spread its requests over any number of budgets.
 * - Else the observed address (`hints.observed`), what the verifier's address walk believes.
 * - Else the TCP peer (`hints.l3`): behind a proxy nobody trusts, that is the proxy — its
 *   clients share a budget rather than choose one.
 * - Else `'unknown'`: one shared budget. Never throws on malformed input.
 *
 * IPv4 stays as it is (`203.0.113.7`); IPv6 becomes its masked network in canonical text with
 * the prefix (`2001:db8:1:2::/64`); IPv4-mapped IPv6 counts as IPv4.
 */
export function rateLimitKey(source: RateLimitKeySource, options: RateLimitKeyOptions = {}): string {
  const prefix = ipv6PrefixOf(options);
  const address = keyAddressOf(source);
  return address === undefined ? UNKNOWN_RATE_LIMIT_KEY : addressKey(address, prefix);
}

const RATE_LIMIT_KEY_OPTION_NAMES: OptionNames<RateLimitKeyOptions> = Object.freeze({ ipv6Prefix: true });

function ipv6PrefixOf(options: RateLimitKeyOptions): number {
  // a misspelt ipv6Prefix would key every IPv6 client on the default /64 without a word
  if (typeof options === 'object' && options !== null) rejectUnknownOptions(options, RATE_LIMIT_KEY_OPTION_NAMES);
  const prefix = options?.ipv6Prefix ?? 64;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) throw new TypeError('ipv6Prefix must be a whole number from 1 to 128');
  return prefix;
}

/** The canonical address to key on, or undefined when none is known. */
function keyAddressOf(source: unknown): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const record = source as Record<string, unknown>;
  if ('ok' in record) {
    // a VerifyResult: its verdict when it has one, else its hints
    return isRecord(record.verdict) ? verdictAddress(record.verdict) : hintsAddress(record.hints);
  }
  return 'agreement' in record ? verdictAddress(record) : hintsAddress(record);
}

function verdictAddress(verdict: Record<string, unknown>): string | undefined {
  const vouched = verdict.agreement === 'match' || (verdict.agreement === 'unverifiable' && verdict.source === 'ticket');
  return (vouched ? addressOf(verdict.ip) : undefined) ?? hintsAddress(verdict.hints);
}

function hintsAddress(hints: unknown): string | undefined {
  if (!isRecord(hints)) return undefined;
  return addressOf(hints.observed) ?? addressOf(hints.l3);
}

function addressOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 64 ? hintAddress(value) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** `address` is canonical (hintAddress): IPv4 as is, IPv6 masked to `prefix`. */
function addressKey(address: string, prefix: number): string {
  if (!address.includes(':')) return address;
  const groups = parseIPv6(address)!;
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, prefix - i * 16));
    groups[i] = keep === 0 ? 0 : groups[i]! & ((0xffff << (16 - keep)) & 0xffff);
  }
  return `${formatIPv6(groups)}/${prefix}`;
}
