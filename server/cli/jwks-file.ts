import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readJsonObjectFile } from './load-keys.js';
import { UsageError } from './usage-error.js';

/** A JWK Set file about to gain one key: what it holds now (every other member kept). */
export interface JwksFileEdit {
  readonly path: string;
  readonly set: Record<string, unknown> & { keys: Record<string, unknown>[] };
  readonly existed: boolean;
}

/** Reads the file (or starts an empty set) and refuses a kid it already holds. Writes nothing. */
export function prepareJwksAddition(path: string, kid: string): JwksFileEdit {
  if (!existsSync(path)) return { path, set: { keys: [] }, existed: false };
  const parsed = readJsonObjectFile(path, '--jwks');
  if (!Array.isArray(parsed.keys) || !parsed.keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw new UsageError(`--jwks ${path}: not a JWK Set (it needs "keys": [ ... ])`);
  }
  const keys = parsed.keys as Record<string, unknown>[];
  if (keys.some((k) => k.kid === kid)) {
    throw new UsageError(`--jwks ${path}: already holds a key with kid "${kid}"; pick another --kid`);
  }
  return { path, set: { ...parsed, keys }, existed: true };
}

/**
 * Appends the key and replaces the file atomically (write a sibling, rename), so a verifier
 * reading it never sees half a file. The file keeps its mode (new: 0644), narrowed to the
 * owner as soon as it holds a secret (`oct`).
 */
export function commitJwksAddition(edit: JwksFileEdit, jwk: Record<string, unknown>): number {
  const keys = [...edit.set.keys, jwk];
  const secret = keys.some((k) => k.kty === 'oct');
  const current = edit.existed ? statSync(edit.path).mode & 0o777 : 0o644;
  const mode = secret ? current & 0o600 : current;
  const temp = join(dirname(edit.path), `.${basename(edit.path)}.${process.pid}.tmp`);
  writeFileSync(temp, `${JSON.stringify({ ...edit.set, keys }, null, 2)}\n`, { mode, flag: 'wx' });
  renameSync(temp, edit.path);
  return keys.length;
}
