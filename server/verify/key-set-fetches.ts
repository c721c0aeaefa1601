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
 */

/** What is read of jose's remote JWK Set: true within the cooldown of its last good fetch. */
interface JoseCooldown {
  readonly coolingDown: boolean;
}

export interface KeySetFetches<T> {
  /** Fetches now, whatever the cooldown, or joins the fetch in flight. A failure is recorded, then thrown. */
  readonly now: () => Promise<T>;
  /**
   * The fetch in flight; else a new one, unless a fetch ended less than the cooldown ago (good:
   * jose's clock, failed: ours); else undefined. For a kid the set does not hold.
   */
  readonly ifDue: () => Promise<T> | undefined;
  /** The fetch in flight, if any. */
  readonly inFlight: Promise<T> | undefined;
  /** No fetch failed within the cooldown. */
  readonly failureCooled: () => boolean;
}

/** `fetchSet` reloads jose's set (and takes the keys into use); it is never run twice at once. */
export function keySetFetches<T>(remote: JoseCooldown, cooldownMs: number, fetchSet: () => Promise<T>): KeySetFetches<T> {
  let lastFailureAt = -Infinity;
  let inFlight: Promise<T> | undefined;
  const failureCooled = (): boolean => Date.now() >= lastFailureAt + cooldownMs;
  const now = (): Promise<T> =>
    (inFlight ??= fetchSet().then(
      (value) => {
        inFlight = undefined;
        return value;
      },
      (error: unknown) => {
        lastFailureAt = Date.now();
        inFlight = undefined;
        throw error;
      },
    ));
  const ifDue = (): Promise<T> | undefined => inFlight ?? (!remote.coolingDown && failureCooled() ? now() : undefined);
  return {
    now,
    ifDue,
    get inFlight() {
      return inFlight;
    },
    failureCooled,
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
