/**
 * When a JWK Set at a URL is fetched again — stamp keys (remote-key-set.ts) and ticket issuers'
 * keys (ticket-verifier.ts) alike, both over jose's remote set. jose alone is not enough: its
 * cooldown counts from its last good fetch only (a failed one moves none of its clocks, so while
 * the source fails every unknown kid fetches again), and on Workers and Vercel Edge it does not
 * share a fetch in flight (one fetch per concurrent lookup). Here every fetch is one promise that
 * every caller shares, each failure is recorded, and a kid nobody holds sends no fetch within
 * the cooldown of the last one, good or failed: a flood of forged kids costs the source one
 * request per cooldown. No platform import, so the web verifier can load it.
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
