import { compileVerifierKey, type VerifierKey, type VerifierKeyInput } from './verifier-key.js';

/** A JWK Set (RFC 7517 §5) object. */
export interface JwkSet {
  keys: readonly Record<string, unknown>[];
}

/** The `keys` option: a JWK Set, or a function from kid to a key (sync or async) — a database, a registry. */
export type KeysOption =
  | JwkSet
  | ((kid: string) => VerifierKeyInput | undefined | null | Promise<VerifierKeyInput | undefined | null>);

/** Resolves a kid to a ready key; undefined means unknown. */
export type KeySource = (kid: string) => VerifierKey | undefined | Promise<VerifierKey | undefined>;

export function compileKeySource(option: KeysOption | undefined): KeySource {
  if (typeof option === 'function') return functionKeySource(option);
  if (typeof option !== 'object' || option === null || !Array.isArray(option.keys)) {
    throw new TypeError('keys must be a JWK Set ({ keys: [...] }) or a function kid → key');
  }
  const byKid = new Map<string, VerifierKey>();
  option.keys.forEach((jwk: VerifierKeyInput, i) => {
    const key = compileVerifierKey(jwk, `keys.keys[${i}]`);
    if (byKid.has(key.kid)) throw new TypeError(`keys.keys[${i}]: duplicate kid`);
    byKid.set(key.kid, key);
  });
  return (kid) => byKid.get(kid);
}

/**
 * Compiles what the function returns once per returned object, so a function that hands
 * back the same JWK object every time pays the import once.
 */
function functionKeySource(lookup: Extract<KeysOption, (kid: string) => unknown>): KeySource {
  const compiled = new WeakMap<object, VerifierKey | null>();
  const compile = (kid: string, input: VerifierKeyInput | undefined | null): VerifierKey | undefined => {
    if (input === undefined || input === null) return undefined;
    let key = compiled.get(input);
    if (key === undefined) {
      try {
        key = compileVerifierKey(input, `keys(${JSON.stringify(kid)})`, typeof input.kid === 'string' ? undefined : kid);
      } catch {
        key = null; // a key that cannot be used is an unknown key, not a crash
      }
      compiled.set(input, key);
    }
    // the function answered for this kid; a key that names another kid does not count
    return key !== null && key.kid === kid ? key : undefined;
  };
  return (kid) => {
    const found = lookup(kid);
    return found instanceof Promise ? found.then((input) => compile(kid, input)) : compile(kid, found);
  };
}
