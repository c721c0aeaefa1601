/**
 * The names an options object may carry, as a record the compiler checks against the options
 * type: a name the type has and the record lacks, or one the record has and the type lacks, is
 * a type error. So the list a function refuses unknown keys by cannot drift from its type.
 */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true };

/**
 * The most edits between a misspelt name and the option it is taken for: two, or a quarter of
 * the name when longer (`trustedProxy` → `trustedProxies` is three), and fewer than its letters.
 */
function suggestionLimit(key: string): number {
  return Math.min(Math.max(2, Math.floor(key.length / 4)), key.length - 1);
}

/** Levenshtein distance, case-insensitive (names further apart in length than `limit` are not compared). */
function distance(a: string, b: string, limit: number): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (Math.abs(x.length - y.length) > limit) return limit + 1;
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length]!;
}

/** A name less its plural or singular ending: `maxEntry` and `maxEntries` are one option misspelt. */
const stem = (name: string): string => name.toLowerCase().replace(/(?:ies|s|y)$/, '');

function suggestion(key: string, names: readonly string[]): string {
  const limit = suggestionLimit(key);
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const name of names) {
    const d = stem(key) === stem(name) ? 0 : distance(key, name, limit);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/**
 * Refuses an options object that carries a key which is no option: a misspelt `trustedProxies`
 * or `onMismatch` would otherwise be ignored, and its default silently kept. Throws
 * `TypeError: unknown option "name"` (with the nearest option's name when one is a few letters away); `within` names a nested object as the user wrote it (`unknown option "issuer.ttl"`).
 * Every own enumerable key counts, whatever its value, as zod's strict objects count them.
 *
 * Also refuses an option that is there but not an own enumerable property (`option "onMismatch"
 * is inherited or not enumerable`). Inherited: the factories read `options.onMismatch`, which
 * finds a value a bug elsewhere in the application wrote onto `Object.prototype` (prototype
 * pollution), and every default it would replace is the strict one — `onMismatch: 'flag'`,
 * `trustedProxies: ['0.0.0.0/0']`, an attacker's `issuers`. Not enumerable (or a class's
 * getter): the copies the factories pass on (`{ ...rest }`) drop it, so a `requireBodyDigest:
 * true` would be read by one check and silently lost to the next.
 */
export function rejectUnknownOptions(options: object, names: Readonly<Record<string, true>>, within?: string): void {
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(names, key)) continue;
    const shown = within === undefined ? key : `${within}.${key}`;
    throw new TypeError(`unknown option "${shown}"${suggestion(key, Object.keys(names))}`);
  }
  for (const name of Object.keys(names)) {
    if (name in options && !Object.prototype.propertyIsEnumerable.call(options, name)) {
      const shown = within === undefined ? name : `${within}.${name}`;
      throw new TypeError(`option "${shown}" is inherited or not enumerable: give options as plain own properties (is Object.prototype polluted?)`);
    }
  }
}
