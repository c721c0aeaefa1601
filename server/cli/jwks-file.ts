import { accessSync, constants, existsSync, lstatSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { describeKeyFile, readJsonObjectFile } from './load-keys.js';
import { UsageError } from './usage-error.js';

/** A JWK Set file about to gain one key: what it holds now (every other member kept). */
export interface JwksFileEdit {
  /** As the user named it (for messages). */
  readonly path: string;
  /** The file written: `path`, or the file it links to when it is a symbolic link. */
  readonly target: string;
  readonly set: Record<string, unknown> & { keys: Record<string, unknown>[] };
  readonly existed: boolean;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unwritable';
}

/**
 * Refuses, before anything is written, a destination the command could not write: a missing or
 * unwritable directory (a new file is created there; a JWK Set is replaced through a sibling
 * file, so its directory must be writable too), a directory given as the file, an existing
 * file that may not be replaced. The message names the flag.
 */
export function checkDestination(path: string, flag: string, existing: 'refuse' | 'replace'): void {
  const dir = dirname(resolve(path));
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch {
    throw new UsageError(`${flag} ${path}: the directory ${dirname(path)} does not exist`);
  }
  if (!dirStat.isDirectory()) throw new UsageError(`${flag} ${path}: ${dirname(path)} is not a directory`);
  const target = statSync(path, { throwIfNoEntry: false });
  if (target?.isDirectory()) throw new UsageError(`${flag} ${path}: is a directory, not a file`);
  if (target !== undefined && existing === 'refuse') throw new UsageError(`${flag} ${path}: exists; refusing to overwrite a key`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`${flag} ${path}: the directory ${dirname(path)} is not writable`);
  }
  if (target !== undefined) {
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new UsageError(`${flag} ${path}: cannot read the file`);
    }
  }
}

/**
 * The file a JWK Set path stands for: a symbolic link (a shared set linked in) is followed to
 * the file it names, so the set the verifier reads is the one that gains the key, and the link
 * stays a link. A link to nothing is refused: whatever was meant to be there is not.
 */
function jwksTarget(path: string): string {
  let link = false;
  try {
    link = lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true;
  } catch {
    // not a link (a missing or unusable directory): checkDestination names the problem
  }
  if (!link) return path;
  try {
    return realpathSync(path);
  } catch (error) {
    throw new UsageError(`--jwks ${path}: a symbolic link to a file that cannot be reached (${errorCode(error)}); name the JWK Set itself`);
  }
}

/** Reads the file (or starts an empty set) and refuses a kid it already holds. Writes nothing. */
export function prepareJwksAddition(path: string, kid: string): JwksFileEdit {
  const target = jwksTarget(path);
  // the sibling written and renamed lives next to the target: its directory must take it
  checkDestination(target, '--jwks', 'replace');
  if (!existsSync(target)) return { path, target, set: { keys: [] }, existed: false };
  const parsed = readJsonObjectFile(path, '--jwks');
  if (!Array.isArray(parsed.keys)) {
    const held = describeKeyFile(parsed);
    throw new UsageError(
      held === undefined
        ? `--jwks ${path}: not a JWK Set (it needs "keys": [ ... ])`
        : `--jwks ${path}: holds ${held}, where a JWK Set belongs: {"keys": [ ... ]}`,
    );
  }
  if (!parsed.keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw new UsageError(`--jwks ${path}: not a JWK Set (each of "keys" must be a JWK object)`);
  }
  const keys = parsed.keys as Record<string, unknown>[];
  if (keys.some((k) => k.kid === kid)) {
    throw new UsageError(`--jwks ${path}: already holds a key with kid "${kid}"; pick another --kid`);
  }
  return { path, target, set: { ...parsed, keys }, existed: true };
}

/**
 * Appends the key and replaces the file atomically (write a sibling, rename), so a verifier
 * reading it never sees half a file. Through a symbolic link the file it names is replaced, in
 * its own directory, and the link is kept. The file keeps its mode (new: 0644), narrowed to the
 * owner as soon as it holds a secret (`oct`). A write that fails anyway (disk full, a race)
 * is a UsageError naming --jwks, and leaves no sibling behind.
 */
export function commitJwksAddition(edit: JwksFileEdit, jwk: Record<string, unknown>): number {
  const keys = [...edit.set.keys, jwk];
  const secret = keys.some((k) => k.kty === 'oct');
  const temp = join(dirname(edit.target), `.${basename(edit.target)}.${process.pid}.tmp`);
  try {
    const current = edit.existed ? statSync(edit.target).mode & 0o777 : 0o644;
    const mode = secret ? current & 0o600 : current;
    writeFileSync(temp, `${JSON.stringify({ ...edit.set, keys }, null, 2)}\n`, { mode, flag: 'wx' });
    renameSync(temp, edit.target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new UsageError(`--jwks ${edit.path}: cannot write (${errorCode(error)})`);
  }
  return keys.length;
}
