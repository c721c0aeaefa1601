/**
 * When a JWK Set at a URL is fetched again, and how a fetch that failed is told — stamp keys
 * (remote-key-set.ts) and ticket issuers' keys (issuer-key-set.ts) alike, both over jose's
 * remote set. jose alone is not enough: its cooldown counts from its last good fetch only (a
 * failed one moves none of its clocks, so while the source fails every unknown kid fetches
 * again), and on Workers and Vercel Edge it does not share a fetch in flight (one fetch per
 * concurrent lookup). Here every fetch is one promise that every caller shares, each failure is
 * recorded, and a kid nobody holds sends no fetch within the cooldown of the last one, good or
 * failed: a flood of forged kids costs the source one request per cooldown. No platform import,
 * so the web verifier can load it, and its error class.
 *
 * The clocks are kept here, not read from jose: jose counts `Date.now() < fetchedAt + duration`,
 * so a wall clock stepped back an hour froze refreshes and retries for that hour (a key withdrawn
 * at the source kept verifying). Here a wait also ends when the clock reads earlier than the
 * fetch it counts from: a step either way costs at most one fetch, never a wait as long as it.
 */

/** True while the wall clock is within `ms` after `at` — and not before it: a clock stepped back ends the wait. */
function within(at: number, ms: number): boolean {
  const now = Date.now();
  return at <= now && now < at + ms;
}

export interface KeySetFetches<T> {
  /** Fetches now, whatever the cooldown, or joins the fetch in flight. A failure is recorded, then thrown. */
  readonly now: () => Promise<T>;
  /**
   * The fetch in flight; else a new one, unless a fetch, good or failed, ended less than the
   * cooldown ago; else undefined. For a kid the set does not hold.
   */
  readonly ifDue: () => Promise<T> | undefined;
  /** The fetch in flight, if any. */
  readonly inFlight: Promise<T> | undefined;
  /** No fetch failed within the cooldown. */
  readonly failureCooled: () => boolean;
  /** The last good fetch ended less than `maxAgeMs` ago (false before the first). */
  readonly fresh: (maxAgeMs: number) => boolean;
}

/** `fetchSet` reloads jose's set (and takes the keys into use); it is never run twice at once. */
export function keySetFetches<T>(cooldownMs: number, fetchSet: () => Promise<T>): KeySetFetches<T> {
  let lastGoodAt = -Infinity;
  let lastFailureAt = -Infinity;
  let inFlight: Promise<T> | undefined;
  const failureCooled = (): boolean => !within(lastFailureAt, cooldownMs);
  const fresh = (maxAgeMs: number): boolean => within(lastGoodAt, maxAgeMs);
  const now = (): Promise<T> =>
    (inFlight ??= fetchSet().then(
      (value) => {
        lastGoodAt = Date.now();
        inFlight = undefined;
        return value;
      },
      (error: unknown) => {
        lastFailureAt = Date.now();
        inFlight = undefined;
        throw error;
      },
    ));
  const ifDue = (): Promise<T> | undefined => inFlight ?? (!fresh(cooldownMs) && failureCooled() ? now() : undefined);
  return {
    now,
    ifDue,
    get inFlight() {
      return inFlight;
    },
    failureCooled,
    fresh,
  };
}

/**
 * A fetch of a remote JWK Set that failed, or (a ticket issuer's set) keys in it that are not
 * used; the keys in use stay.
 */
export class KeySetFetchError extends Error {
  override readonly name = 'KeySetFetchError';
  /**
   * `ERR_IPSTAMP_KEYS_FETCH`: no usable answer (unreachable, timeout, not 200, not a JSON JWK Set);
   * `ERR_IPSTAMP_KEYS_INVALID`: a JWK Set with a key that does not pass (the message names it).
   */
  readonly code: 'ERR_IPSTAMP_KEYS_FETCH' | 'ERR_IPSTAMP_KEYS_INVALID';
  /** The ticket issuer (its origin, as `issuers` names it) whose set this is; absent for `createRemoteKeySet`. */
  readonly issuer?: string;
  constructor(code: KeySetFetchError['code'], message: string, options?: { cause?: unknown; issuer?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.issuer !== undefined) this.issuer = options.issuer;
  }
}

export function isKeySetFetchError(value: unknown): value is KeySetFetchError {
  return value instanceof KeySetFetchError;
}

/** Why jose's fetch of a JWK Set failed, in a few words (no URL: the caller names it). */
export function fetchFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_JWKS_TIMEOUT') return 'no answer in time';
  if (code === 'ERR_JWKS_INVALID') return 'not a JWK Set';
  if (error instanceof SyntaxError || /parse/i.test((error as Error).message ?? '')) return 'not JSON';
  if (code === 'ERR_JOSE_GENERIC') return 'not a 200 answer';
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  return typeof cause === 'string' ? `unreachable (${cause})` : 'unreachable';
}
