/**
 * A JWK Set whose keys can be replaced while the verifier runs (key rotation): compiled all
 * at once with the rules of the `keys` option (key-source.ts), swapped in one assignment, so a
 * request sees the old set or the new one, never half of each. A set that does not compile
 * leaves the keys in use untouched. The replay memory is the store's, not the key set's: a
 * reload never touches it.
 */
import { compileVerifierKey, type JwkSet, type KeyWithAlg, type NodeKeyObject } from './key-source.js';
import { nodePlatform } from './node-platform.js';

/** What a reload changed, by kid: for a log line. */
export interface KeySetChange {
  /** Kids the new set has and the old one had not. */
  readonly added: readonly string[];
  /** Kids the old set had and the new one has not: their stamps are `unknown-key` from now on. */
  readonly removed: readonly string[];
  /** Kids in both sets whose key or `allowed_ips` changed. */
  readonly changed: readonly string[];
  /** How many keys the set holds now. */
  readonly count: number;
}

export interface KeySet {
  /** kid → key, for the verifier: `keys: keySet.lookup`. */
  readonly lookup: (kid: string) => KeyWithAlg | undefined;
  /**
   * Replaces every key with those of `jwks`, checked as the `keys` option checks a JWK Set. A
   * set that does not pass throws a TypeError naming the key (`keys[1]: …`), and the keys in
   * use stay.
   */
  reload(jwks: JwkSet): KeySetChange;
  /** The kids held now, in the order of the set. */
  readonly kids: readonly string[];
}

/** One compiled key of a set. */
export interface CompiledEntry {
  readonly key: KeyWithAlg;
  /** The JWK as JSON, to tell an unchanged key from a changed one across reloads. */
  readonly source: string;
}

/**
 * Checks and imports every key of a JWK Set, or throws TypeError naming the first that fails
 * (`${where}[i]: …`). All or nothing: one bad key refuses the set, as at start.
 */
export function compileJwkSet(jwks: unknown, where = 'keys'): Map<string, CompiledEntry> {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new TypeError(`${where} must be a JWK Set ({ "keys": [ ... ] })`);
  }
  const out = new Map<string, CompiledEntry>();
  (jwks as { keys: unknown[] }).keys.forEach((jwk, i) => {
    const at = `${where}[${i}]`;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new TypeError(`${at}: must be a JWK object`);
    const compiled = compileVerifierKey<NodeKeyObject>(jwk as Record<string, unknown>, at, nodePlatform);
    if (out.has(compiled.kid)) throw new TypeError(`${at}: duplicate kid`);
    const allowed = (jwk as { allowed_ips?: readonly string[] }).allowed_ips;
    const key: KeyWithAlg = Object.freeze({
      key: compiled.keyObject,
      alg: compiled.alg,
      kid: compiled.kid,
      ...(allowed === undefined ? {} : { allowed_ips: Object.freeze([...allowed]) }),
    });
    out.set(compiled.kid, { key, source: JSON.stringify(jwk) });
  });
  return out;
}

/**
 * The entries of `next`, reusing the old entry's object where a key did not change (the
 * verifier imports each object once), and what changed.
 */
export function mergeKeySets(
  current: ReadonlyMap<string, CompiledEntry>,
  next: Map<string, CompiledEntry>,
): { entries: Map<string, CompiledEntry>; change: KeySetChange } {
  const added: string[] = [];
  const changed: string[] = [];
  for (const [kid, entry] of next) {
    const old = current.get(kid);
    if (old === undefined) added.push(kid);
    else if (old.source === entry.source) next.set(kid, old);
    else changed.push(kid);
  }
  const removed = [...current.keys()].filter((kid) => !next.has(kid));
  return { entries: next, change: Object.freeze({ added, removed, changed, count: next.size }) };
}

/**
 * A JWK Set you can reload: pass `keys: keySet.lookup` to the verifier and call
 * `keySet.reload(newSet)` when the file changes (on SIGHUP, say). Throws TypeError at once for
 * a set that does not pass.
 */
export function createKeySet(jwks: JwkSet): KeySet {
  let entries = mergeKeySets(new Map(), compileJwkSet(jwks)).entries;
  return {
    lookup: (kid) => entries.get(kid)?.key,
    reload(next) {
      const merged = mergeKeySets(entries, compileJwkSet(next));
      entries = merged.entries;
      return merged.change;
    },
    get kids() {
      return [...entries.keys()];
    },
  };
}
