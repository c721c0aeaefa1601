import { hintAddress } from '../../shared/address.js';
import { DEFAULT_FORWARDING_LIMITS, walkCommaList, type ForwardingLimits } from './forwarding-list.js';

/**
 * X-Forwarded-For, all instances in order (pass `req.headersDistinct['x-forwarded-for']`):
 * every comma-separated entry becomes its canonical address, or undefined when it is not
 * one (`unknown`, empty, garbage). Never throws.
 */
export function parseXForwardedFor(
  values: readonly string[],
  limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS,
): (string | undefined)[] {
  return walkCommaList(values, limits, hintAddress);
}
