/**
 * A ticket issuer's JWK Set fetched from the URL it publishes it at (PROTOCOL.md §7.2, §7.4).
 * jose fetches (timeout, no redirects, status and shape checked); keySetFetches keeps the clocks; every
 * fetch goes through keySetFetches (key-set-fetches.ts), as createRemoteKeySet's do: one at a
 * time, and none for a kid the set does not hold within 30 s of the last, good or failed.
 *
 * Each fetched key is checked with the rules of an inline set (key-source.ts), so a URL and the
 * same set given inline choose the same keys. A key that fails is left out and the rest of the
 * set is used: the issuer's other keys keep its tickets verifying. What was left out, and every
 * failed fetch, is told to `report`; without it an operator saw only `bad-ticket`.
 *
 * A key is used only while the last good fetch is fresh: a key the issuer retired stops
 * verifying within ISSUER_SET_MAX_AGE_MS, and while a stale set cannot be fetched, none verifies.
 */
import { createRemoteJWKSet } from 'jose/jwks/remote';
import { TICKET_ALGS, type TicketAlg } from '../../shared/constants.js';
import { privateMemberOf } from '../../shared/public-jwk.js';
import { compileVerifierKey, type VerifierKey } from './key-source.js';
import { fetchFailure, KeySetFetchError, keySetFetches } from './key-set-fetches.js';
import type { VerifyPlatform } from './platform.js';

/** kid and the ticket's alg → the platform's key, or undefined (unknown kid, another alg, no fresh set). */
export type IssuerKeyLookup<Key> = (kid: string, alg: TicketAlg) => Promise<Key | undefined> | Key | undefined;

/** Least time between two fetches of an issuer's JWK Set that tickets can cause, good or failed. */
const RELOAD_COOLDOWN_MS = 30_000;
/** Age after which an issuer's fetched set is fetched again before any key of it verifies. */
const ISSUER_SET_MAX_AGE_MS = 600_000;

/** What one fetched set gives: the keys a ticket may name, and why each other one is not among them. */
export interface FetchedIssuerKeys<Key> {
  readonly keys: ReadonlyMap<string, VerifierKey<Key>>;
  /** `keys[i] (kid "…"): why`, one per key left out. */
  readonly leftOut: readonly string[];
}

const NONE_IN_USE = 'no key of it is in use: its tickets are refused';
/** Keys left out are named up to this many in one report: a set of junk keys makes no megabyte log line. */
const MAX_NAMED = 8;

const keysText = (n: number): string => (n === 1 ? '1 key' : `${n} keys`);
const listed = (leftOut: readonly string[]): string =>
  leftOut.length <= MAX_NAMED ? leftOut.join('; ') : `${leftOut.slice(0, MAX_NAMED).join('; ')}; and ${leftOut.length - MAX_NAMED} more left out`;

function kidText(jwk: unknown): string {
  const kid = (jwk as { kid?: unknown } | null)?.kid;
  return typeof kid === 'string' ? ` (kid ${JSON.stringify(kid.slice(0, 128))})` : '';
}

/** Why a fetched key cannot sign tickets, before its numbers are looked at; undefined if nothing is. */
function ticketKeyProblem(jwk: unknown): string | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'is not a JWK object';
  // a private key in a published set is public now: anyone who fetched it can sign tickets
  const member = privateMemberOf(jwk);
  if (member !== undefined) return `publishes a private key (it has "${member}"): anyone can sign with it, so it is not used`;
  if ((jwk as { kty?: unknown }).kty === 'oct') return 'publishes a secret (kty "oct"): tickets are signed with ES256 or EdDSA';
  // §7.4 (4): the set pins each key's alg; jose would take an alg-less key for any alg its kty fits
  const { alg } = jwk as { alg?: unknown };
  if (alg === undefined) return 'has no "alg": the set must pin each key\'s alg';
  if (!(TICKET_ALGS as readonly unknown[]).includes(alg)) return `alg must be one of ${TICKET_ALGS.join(', ')} for a ticket key`;
  return undefined;
}

/** Every key of a fetched set that passes, by kid; a kid named twice is not used at all (§2.3: kids are unique within a set). */
export function compileIssuerKeys<Key>(jwks: unknown, platform: Pick<VerifyPlatform<Key>, 'crypto' | 'compileTrust'>): FetchedIssuerKeys<Key> {
  const members: unknown[] = Array.isArray((jwks as { keys?: unknown } | null)?.keys) ? (jwks as { keys: unknown[] }).keys : [];
  const keys = new Map<string, VerifierKey<Key>>();
  const leftOut: string[] = [];
  const twice = new Set<string>();
  members.forEach((jwk, i) => {
    const at = `keys[${i}]${kidText(jwk)}`;
    const problem = ticketKeyProblem(jwk);
    if (problem !== undefined) return void leftOut.push(`${at}: ${problem}`);
    let key: VerifierKey<Key>;
    try {
      key = compileVerifierKey<Key>(jwk as Record<string, unknown>, at, platform);
    } catch (error) {
      // compileVerifierKey's TypeError already starts with `at`
      return void leftOut.push((error as Error).message);
    }
    if (keys.has(key.kid) || twice.has(key.kid)) {
      keys.delete(key.kid);
      twice.add(key.kid);
      return void leftOut.push(`${at}: its kid is named more than once, so no key of that kid is used`);
    }
    keys.set(key.kid, key);
  });
  return { keys, leftOut };
}

/**
 * The lookup of one issuer (`iss`, its normalized origin) whose set is at `url`. `report` is
 * told every failed fetch (`ERR_IPSTAMP_KEYS_FETCH`) and every fetched set with keys left out
 * (`ERR_IPSTAMP_KEYS_INVALID`, listing them); a throwing `report` changes nothing.
 */
export function fetchedIssuerKeys<Key>(
  iss: string,
  url: URL,
  platform: VerifyPlatform<Key>,
  report: ((error: KeySetFetchError) => void) | undefined,
): IssuerKeyLookup<Key> {
  // messages name the URL without its query: a token there would end up in logs
  const label = `issuers[${JSON.stringify(iss)}] ${url.origin}${url.pathname}`;
  const tell = (error: KeySetFetchError): void => {
    try {
      report?.(error);
    } catch {
      // a throwing logger must not turn a fetch into a crash
    }
  };
  const remote = createRemoteJWKSet(url, { cooldownDuration: RELOAD_COOLDOWN_MS, cacheMaxAge: ISSUER_SET_MAX_AGE_MS });
  let keys: ReadonlyMap<string, VerifierKey<Key>> = new Map();
  const fetches = keySetFetches(RELOAD_COOLDOWN_MS, async () => {
    try {
      await remote.reload();
    } catch (error) {
      const held =
        fetches.fresh(ISSUER_SET_MAX_AGE_MS) && keys.size > 0 ? `keeping ${keysText(keys.size)} of the last good fetch until it is 10 min old` : NONE_IN_USE;
      tell(new KeySetFetchError('ERR_IPSTAMP_KEYS_FETCH', `${label}: ${fetchFailure(error)}; ${held}`, { cause: error, issuer: iss }));
      throw error;
    }
    const fetched = compileIssuerKeys(remote.jwks(), platform);
    keys = fetched.keys;
    if (fetched.leftOut.length > 0) {
      const using = fetched.keys.size === 0 ? NONE_IN_USE : `using the other ${keysText(fetched.keys.size)}`;
      tell(new KeySetFetchError('ERR_IPSTAMP_KEYS_INVALID', `${label}: ${listed(fetched.leftOut)}; ${using}`, { issuer: iss }));
    }
  });
  /** The fetch in flight, or a new one if one is due: true once it has succeeded. */
  const refreshed = async (): Promise<boolean> => {
    const fetch = fetches.ifDue();
    if (fetch === undefined) return false;
    try {
      await fetch;
      return true;
    } catch {
      return false;
    }
  };
  const chosen = (kid: string, alg: TicketAlg): Key | undefined => {
    const key = keys.get(kid);
    return key !== undefined && key.alg === alg ? key.keyObject : undefined;
  };
  return async (kid, alg) => {
    if (!fetches.fresh(ISSUER_SET_MAX_AGE_MS) && !(await refreshed())) return undefined;
    const key = chosen(kid, alg);
    if (key !== undefined || !(await refreshed())) return key;
    return chosen(kid, alg);
  };
}
