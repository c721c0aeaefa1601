import { loosenedPoliciesWarning } from '../verify/loosened-policies.js';

/** The `code` of the process warning the node and Hono middleware emit for loosened policies. */
export const LOOSENED_POLICIES_WARNING_CODE = 'IPSTAMP_LOOSENED_POLICIES';

/**
 * Says the loosened policies once, where no logger is given: a process warning on Node (shown on
 * stderr unless the app handles `process.on('warning')`), else `console.warn` (Workers, Deno, Bun
 * without `process`).
 */
export function warnOfLoosenedPolicies(options: Parameters<typeof loosenedPoliciesWarning>[0]): void {
  const message = loosenedPoliciesWarning(options);
  if (message === undefined) return;
  const emit = (globalThis as { process?: { emitWarning?: (message: string, options: { code: string }) => void } }).process?.emitWarning;
  if (typeof emit === 'function') emit.call(globalThis.process, message, { code: LOOSENED_POLICIES_WARNING_CODE });
  else console.warn(message);
}
