import type { VerifierOptions } from './options.js';

/** A policy set away from its strict default, and what that lets through. */
export interface LoosenedPolicy {
  readonly option: 'onMismatch' | 'onUnverifiable' | 'onStoreError' | 'reportOnly';
  readonly value: string;
  /** One clause for a log line: what is accepted that the default refuses. */
  readonly consequence: string;
}

/**
 * The verifier's policies, and an adapter's `reportOnly` beside them (the verifier still refuses;
 * the adapter lets the refusal through), so the one list says that loosening too.
 */
type PolicyOptions = Partial<Pick<VerifierOptions, 'onMismatch' | 'onUnverifiable' | 'onStoreError'>> & { readonly reportOnly?: boolean };

/**
 * The one list of loosened policies, in a fixed order, for everything that must say them out
 * loud: the plugin's warning at registration and the CLI's start line. Takes the options as
 * given or as compiled (a missing value is the strict default).
 */
export function loosenedPolicies(options: PolicyOptions): LoosenedPolicy[] {
  const loosened: LoosenedPolicy[] = [];
  if (options.onMismatch === 'flag') {
    loosened.push({ option: 'onMismatch', value: 'flag', consequence: 'a stamp whose ip the network contradicts is ACCEPTED (agreement "mismatch")' });
  }
  if (options.onUnverifiable === 'accept') {
    loosened.push({
      option: 'onUnverifiable',
      value: 'accept',
      consequence: 'a stamp the network cannot confirm is ACCEPTED (agreement "unverifiable"): any claimed ip passes when no hint decides',
    });
  }
  if (options.onStoreError === 'accept') {
    loosened.push({
      option: 'onStoreError',
      value: 'accept',
      consequence: 'when the replay store fails, stamps are accepted WITHOUT a replay check (replays possible)',
    });
  }
  // last: the warnings of the verifier's own policies keep their text when it is added
  if (options.reportOnly === true) {
    loosened.push({
      option: 'reportOnly',
      value: 'true',
      consequence: 'every refused stamp is let through as unstamped (ipStamp null, the reason in ipStampRefusal)',
    });
  }
  return loosened;
}

/** `onMismatch: flag, onStoreError: accept` — the short form for start lines and log fields. */
export function loosenedPolicyNames(loosened: readonly LoosenedPolicy[]): string[] {
  return loosened.map((p) => `${p.option}: ${p.value}`);
}

/**
 * The one sentence that says every loosened policy and what it lets through, or undefined when
 * none is: the Fastify plugin logs it at registration, the node and Hono middleware emit it as a
 * process warning (they have no logger), so no adapter loosens a policy quietly.
 */
export function loosenedPoliciesWarning(options: PolicyOptions): string | undefined {
  const loosened = loosenedPolicies(options);
  return loosened.length === 0 ? undefined : `ipstamp: LOOSENED policies: ${loosened.map((p) => `${p.option} is '${p.value}': ${p.consequence}`).join('; ')}`;
}
