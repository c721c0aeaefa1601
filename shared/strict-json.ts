/**
 * JSON.parse keeps the last of two members with the same name; jose does the same. A token
 * whose header or claims say two things at once is refused instead (PROTOCOL.md §2.1–2.2).
 */

/** Parses a JSON object; undefined when it is not valid JSON, not an object, or repeats a member name at any depth. */
export function parseStrictJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return hasDuplicateMember(text, value) ? undefined : (value as Record<string, unknown>);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index of the quote that closes the string opened at `open`, jumping from quote to quote. */
function closingQuote(text: string, open: number): number {
  let j = text.indexOf('"', open + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
}

/**
 * Text that JSON.parse accepted as `object`. JSON.parse keeps one property per distinct name,
 * and every comma outside strings separates two members or elements. A repeated name, at any
 * depth, therefore needs more commas than the top level's distinct names account for: text
 * with exactly (names − 1) commas anywhere — a small flat stamp, as a rule — repeats nothing,
 * and a few indexOf calls prove it. Anything else takes the full scan.
 */
function hasDuplicateMember(text: string, object: object): boolean {
  const names = Object.keys(object).length;
  let commas = 0;
  for (let at = text.indexOf(','); at !== -1 && commas < names; at = text.indexOf(',', at + 1)) commas++;
  return commas === names - 1 ? false : hasDuplicateMemberScan(text);
}

/**
 * Scans text that JSON.parse has already accepted, so it only has to track nesting and
 * member names. Strings are skipped with indexOf, which keeps this near JSON.parse's own cost.
 */
function hasDuplicateMemberScan(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (expectKey) {
        let name = text.slice(i + 1, end);
        // "\u0061" and "a" name the same member
        if (name.includes('\\')) name = JSON.parse(text.slice(i, end + 1)) as string;
        const seen = stack[stack.length - 1]!;
        if (seen.has(name)) return true;
        seen.add(name);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return false;
}
