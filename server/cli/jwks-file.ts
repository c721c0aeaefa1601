import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fstatSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { compileJwkSet } from '../verify/key-set.js';
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

/** The set in the file as it is now, with `kid` refused if it is already there; an absent file is an empty set. */
function readJwks(path: string, target: string, kid: string): JwksFileEdit {
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
  try {
    // the keys already there, with --keys' rules: a set a verifier refuses gains nothing from one more key
    compileJwkSet({ keys }, 'keys');
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new UsageError(`--jwks ${path}: ${error.message}; a verifier would refuse this set (serve --keys), so fix or remove that key first`);
  }
  return { path, target, set: { ...parsed, keys }, existed: true };
}

/**
 * Reads the file (or starts an empty set) and refuses a kid it already holds, so that a key is
 * not generated for a set that cannot take it. Writes nothing; {@link commitJwksAddition} reads
 * the file again, under its lock.
 */
export function prepareJwksAddition(path: string, kid: string): JwksFileEdit {
  const target = jwksTarget(path);
  // the sibling written and renamed lives next to the target: its directory must take it
  checkDestination(target, '--jwks', 'replace');
  return readJwks(path, target, kid);
}

/** How long a second keygen waits for another one's write to the same set before it gives up. */
const LOCK_WAIT_MS = 3000;

/**
 * The sibling a commit writes is also the set's lock: created exclusively, and renamed over the
 * set when written, which releases it in the same step. Two keygens adding to one set at once
 * take turns, and the second reads the set the first wrote, so neither key is lost.
 */
async function takeLock(edit: JwksFileEdit, mode: number): Promise<number> {
  const lock = lockPath(edit.target);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      return openSync(lock, 'wx', mode);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      if (Date.now() >= deadline) {
        throw new UsageError(
          `--jwks ${edit.path}: another keygen has been writing it for ${LOCK_WAIT_MS / 1000} s (${lock} exists); if none is running, remove that file`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

function lockPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.ipstamp-lock`);
}

/**
 * Appends the key and replaces the file atomically (write a sibling, rename), so a verifier
 * reading it never sees half a file. The set is read again under the lock, so a key another
 * keygen added since {@link prepareJwksAddition} is kept, and a kid it took is refused. Through
 * a symbolic link the file it names is replaced, in its own directory, and the link is kept. The
 * file keeps its mode (new: 0644 less the umask), narrowed to the owner as soon as it holds a secret (`oct`). A
 * write that fails anyway (disk full) is a UsageError naming --jwks, and leaves no sibling behind.
 */
export async function commitJwksAddition(prepared: JwksFileEdit, jwk: Record<string, unknown>): Promise<number> {
  const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
  const lock = lockPath(prepared.target);
  let fd: number | undefined;
  try {
    // a new set's mode, as the umask makes it; narrowed below, before a byte is written, if a secret goes in
    fd = await takeLock(prepared, 0o644);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--jwks ${prepared.path}: cannot write (${errorCode(error)})`);
  }
  let renamed = false;
  try {
    const edit = readJwks(prepared.path, prepared.target, kid);
    const keys = [...edit.set.keys, jwk];
    const secret = keys.some((k) => k.kty === 'oct');
    const current = (edit.existed ? statSync(edit.target) : fstatSync(fd)).mode & 0o777;
    fchmodSync(fd, secret ? current & 0o600 : current);
    writeFileSync(fd, `${JSON.stringify({ ...edit.set, keys }, null, 2)}\n`);
    closeSync(fd);
    fd = undefined;
    renameSync(lock, edit.target);
    renamed = true;
    return keys.length;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--jwks ${prepared.path}: cannot write (${errorCode(error)})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (!renamed) rmSync(lock, { force: true });
  }
}
