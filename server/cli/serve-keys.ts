/**
 * The client keys of `serve` / `gateway`: a JWK Set file (`--keys`), read again on SIGHUP, or a
 * JWK Set URL (`--keys-url`), fetched as the library's remote key set fetches it (and at once
 * on SIGHUP). A reload that fails keeps the keys in use and says why in one line on stderr.
 */
import type { KeySetChange } from '../verify/key-set.js';
import { compileJwkSet, mergeKeySets, type CompiledEntry } from '../verify/key-set.js';
import type { KeyWithAlg } from '../verify/key-source.js';
import { createRemoteKeySet, type RemoteKeySet } from '../verify/remote-key-set.js';
import { createIssuerKeys, type IssuerKeys } from '../issuer/issuer.js';
import { loadIssuerKeyFile, loadKeysFile } from './load-keys.js';
import { UsageError } from './usage-error.js';

/** What SIGHUP reads again. */
export interface Reloadable {
  /** Never throws: `text` says how it went, for one line (stdout when ok, else stderr). */
  reload(): Promise<{ ok: boolean; text: string }>;
}

export interface ServeKeys extends Reloadable {
  /** The verifier's `keys` option. */
  readonly lookup: (kid: string) => KeyWithAlg | undefined | Promise<KeyWithAlg | undefined>;
  /** For the start line: `2 keys from keys.json`. */
  describe(): string;
  /**
   * Before listening: the first fetch of a URL (a failure stops the start). `print` then tells
   * what happens in the background (a URL's failed or changing fetches), one line each.
   */
  ready(print: Print): Promise<void>;
}

export type Print = (stream: 'stdout' | 'stderr', text: string) => void;

function plural(n: number): string {
  return `${n} key${n === 1 ? '' : 's'}`;
}

/** `3 keys (added new-1; removed old-1)`. */
export function describeChange(change: KeySetChange): string {
  const parts = [
    change.added.length > 0 ? `added ${change.added.join(', ')}` : '',
    change.removed.length > 0 ? `removed ${change.removed.join(', ')}` : '',
    change.changed.length > 0 ? `changed ${change.changed.join(', ')}` : '',
  ].filter((p) => p !== '');
  return `${plural(change.count)} (${parts.length > 0 ? parts.join('; ') : 'no change'})`;
}

/** The set in a file, compiled; a UsageError naming `--keys FILE` and the key (`keys.keys[1]: …`). */
function compileKeysFile(path: string): Map<string, CompiledEntry> {
  const { jwks } = loadKeysFile(path);
  try {
    return compileJwkSet(jwks, 'keys.keys');
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`--keys ${path}: ${error.message}`);
    throw error;
  }
}

/** No key of its own: a verifier that only takes tickets. */
export const NO_KEYS: ServeKeys = {
  lookup: () => undefined,
  describe: () => '0 keys from (none: tickets only)',
  ready: async () => undefined,
  reload: async () => ({ ok: true, text: 'no --keys to reload (tickets only)' }),
};

/** `--keys FILE`: checked at start (a UsageError stops the command), read again on each SIGHUP. */
export function keysFromFile(path: string): ServeKeys {
  let entries = mergeKeySets(new Map(), compileKeysFile(path)).entries;
  return {
    lookup: (kid) => entries.get(kid)?.key,
    describe: () => `${plural(entries.size)} from ${path}`,
    ready: async () => undefined,
    async reload() {
      try {
        // swapped in one assignment: a request in flight has its key already, the next one sees the new set
        const merged = mergeKeySets(entries, compileKeysFile(path));
        entries = merged.entries;
        return { ok: true, text: `reloaded --keys ${path}: ${describeChange(merged.change)}` };
      } catch (error) {
        const why = error instanceof UsageError ? error.message : `--keys ${path}: ${(error as Error).message}`;
        return { ok: false, text: `${why}; keeping the ${plural(entries.size)} in use` };
      }
    },
  };
}

/**
 * `--keys-url URL`: the library's remote key set with its defaults (cooldown 30 s, refresh
 * every 10 min, timeout 5 s). Failed background fetches are told on stderr, at most one per
 * cooldown; a set that changed is told on stdout.
 */
export function keysFromUrl(url: string): ServeKeys {
  let remote: RemoteKeySet;
  let print: Print | undefined;
  let quiet = true; // ready() and reload() say how they went themselves
  try {
    remote = createRemoteKeySet(url, {
      onError: (error) => {
        if (!quiet) print?.('stderr', `--keys-url ${error.message}; keeping the ${plural(remote.kids.length)} in use`);
      },
      onReload: (change) => {
        if (!quiet && change.added.length + change.removed.length + change.changed.length > 0) {
          print?.('stdout', `--keys-url ${remote.url}: ${describeChange(change)}`);
        }
      },
    });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`--keys-url ${error.message.replace(/^url /, '')}`);
    throw error;
  }
  return {
    lookup: remote.lookup,
    describe: () => `${plural(remote.kids.length)} from ${remote.url}`,
    async ready(printer) {
      print = printer;
      try {
        await remote.reload();
      } finally {
        quiet = false;
      }
    },
    async reload() {
      quiet = true;
      try {
        const change = await remote.reload();
        return { ok: true, text: `fetched --keys-url ${remote.url}: ${describeChange(change)}` };
      } catch (error) {
        return { ok: false, text: `--keys-url ${(error as Error).message}; keeping the ${plural(remote.kids.length)} in use` };
      } finally {
        quiet = false;
      }
    },
  };
}

function issuerKeysText(keys: IssuerKeys): string {
  return `signing with ${keys.kid}, publishing ${keys.jwks.keys.map((k) => String(k.kid)).join(', ')}`;
}

/**
 * `--issuer-key FILE`: one private JWK, or a JWK Set whose first (private) key signs and whose
 * others are only published (the next key before it signs, the previous one while its tickets
 * live). Checked at start; read again on SIGHUP.
 */
export function issuerKeysFromFile(path: string): Reloadable & { readonly keys: IssuerKeys } {
  const read = (): Record<string, unknown> => loadIssuerKeyFile(path);
  let keys: IssuerKeys;
  try {
    keys = createIssuerKeys(read(), 'issuer.key');
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`--issuer-key ${path}: ${error.message}`);
    throw error;
  }
  return {
    keys,
    async reload() {
      try {
        keys.reload(read());
        return { ok: true, text: `reloaded --issuer-key ${path}: ${issuerKeysText(keys)}` };
      } catch (error) {
        const why = error instanceof UsageError ? error.message : `--issuer-key ${path}: ${(error as Error).message}`;
        return { ok: false, text: `${why}; keeping the keys in use (${issuerKeysText(keys)})` };
      }
    },
  };
}
