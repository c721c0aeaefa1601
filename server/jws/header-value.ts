/**
 * The stamp header's single value, or undefined when it was sent more than once. Node joins
 * repeated unknown headers with ", " — a comma never occurs in a JWS, so a joined pair is
 * caught as surely as an array of two.
 */
export function compactHeaderValue(raw: string | readonly string[]): string | undefined {
  if (typeof raw !== 'string') {
    if (raw.length !== 1) return undefined;
    raw = raw[0]!;
  }
  return raw.includes(',') ? undefined : raw;
}
