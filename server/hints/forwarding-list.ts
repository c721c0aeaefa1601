/**
 * The comma-separated list walk shared by X-Forwarded-For and Forwarded, with the caps that
 * keep a hostile header cheap. Entries are read from the right — the end trusted proxies
 * write — so a cap only ever cuts the client-written left part.
 */

export interface ForwardingLimits {
  /** Most entries returned (default 32). */
  readonly maxEntries: number;
  /** Most characters read, counted from the right end of all instances joined by ',' (default 8192). */
  readonly maxBytes: number;
}

export const DEFAULT_FORWARDING_LIMITS: ForwardingLimits = Object.freeze({ maxEntries: 32, maxBytes: 8192 });

export function checkForwardingLimits(limits: Partial<ForwardingLimits> | undefined): ForwardingLimits {
  if (limits === undefined) return DEFAULT_FORWARDING_LIMITS;
  const maxEntries = limits.maxEntries ?? DEFAULT_FORWARDING_LIMITS.maxEntries;
  const maxBytes = limits.maxBytes ?? DEFAULT_FORWARDING_LIMITS.maxBytes;
  if (!Number.isInteger(maxEntries) || maxEntries < 2 || maxEntries > 1024) {
    throw new TypeError('maxEntries must be an integer from 2 to 1024');
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 16 || maxBytes > 1 << 20) {
    throw new TypeError('maxBytes must be an integer from 16 to 1048576');
  }
  return { maxEntries, maxBytes };
}

/**
 * Splits every instance at every comma, trims optional whitespace, maps each element with
 * `toEntry`, and returns the entries left to right. Past a cap, the leftmost returned entry
 * is `undefined`: a marker that the observed walk cannot step over, so addresses that were
 * cut off can never be mistaken for the client.
 */
export function walkCommaList(values: readonly string[], limits: ForwardingLimits, toEntry: (element: string) => string | undefined): (string | undefined)[] {
  const reversed: (string | undefined)[] = [];
  let budget = limits.maxBytes;
  for (let v = values.length - 1; v >= 0; v--) {
    const value = values[v]!;
    let end = value.length;
    for (;;) {
      const comma = end === 0 ? -1 : value.lastIndexOf(',', end - 1);
      const start = comma + 1;
      budget -= end - start + 1; // +1: the separator before it
      if (budget + 1 < 0 || reversed.length === limits.maxEntries) {
        return truncated(reversed, limits.maxEntries);
      }
      reversed.push(toEntry(trimOws(value, start, end)));
      if (comma === -1) break;
      end = comma;
    }
  }
  return reversed.reverse();
}

function truncated(reversed: (string | undefined)[], maxEntries: number): (string | undefined)[] {
  if (reversed.length === maxEntries) reversed[maxEntries - 1] = undefined;
  else reversed.push(undefined);
  return reversed.reverse();
}

/** RFC 9110 OWS is space and tab only: other characters are part of the element. */
export function trimOws(text: string, start = 0, end = text.length): string {
  let a = start;
  let b = end;
  while (a < b && isOws(text.charCodeAt(a))) a++;
  while (b > a && isOws(text.charCodeAt(b - 1))) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
