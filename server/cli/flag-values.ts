import { compileTrust, type TrustMatcher } from '../hints/trust.js';
import { UsageError } from './usage-error.js';

/** The `values` of parseFlags, read one flag at a time with the checks a CLI user needs. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredStringFlag(values: FlagValues, name: string, what: string): string {
  const value = stringFlag(values, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} ${what} is required`);
  return value;
}

/** A repeatable flag whose values may also be comma-separated: `--origin a --origin b,c`. */
export function listFlag(values: FlagValues, name: string): string[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const list = (Array.isArray(raw) ? raw : [raw])
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (list.length === 0) throw new UsageError(`--${name} needs a value`);
  return list;
}

export function integerFlag(values: FlagValues, name: string, min: number, max: number): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${shownValue(raw)}`);
  return n;
}

/** What the user typed, for an error line: as typed when short and plain, else quoted and cut. */
export function shownValue(raw: string): string {
  if (/^[\x21-\x7e]{1,40}$/.test(raw)) return raw;
  return raw.length > 40 ? `${JSON.stringify(raw.slice(0, 40))}…` : JSON.stringify(raw);
}

export function choiceFlag<T extends string>(values: FlagValues, name: string, choices: readonly T[]): T | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}`);
  return raw as T;
}

/** CIDRs / presets for a flag, compiled the way the verifier compiles them; errors name the flag. */
export function trustFlag(list: readonly string[], flag: string): TrustMatcher {
  try {
    return compileTrust(list, `--${flag}`);
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
}
