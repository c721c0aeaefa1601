import { hintAddress } from '../../shared/address.js';
import { DEFAULT_FORWARDING_LIMITS, trimOws, type ForwardingLimits } from './forwarding-list.js';

/**
 * A header that holds one address (`x-real-ip`, `cf-connecting-ip`, `true-client-ip`, …).
 * The trusted proxy overwrites it, so a second instance means someone else wrote one too:
 * that, a list, or an over-long value is a single invalid entry. No instance: no entries.
 */
export function parseSingleAddressHeader(
  values: readonly string[],
  limits: ForwardingLimits = DEFAULT_FORWARDING_LIMITS,
): (string | undefined)[] {
  if (values.length === 0) return [];
  const value = values[0]!;
  if (values.length > 1 || value.length > limits.maxBytes) return [undefined];
  return [hintAddress(trimOws(value))];
}
