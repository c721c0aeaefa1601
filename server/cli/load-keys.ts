import { readFileSync } from 'node:fs';
import { parseStrictJsonObject } from '../../shared/strict-json.js';
import { compileKeySource, type JwkSet } from '../verify/key-source.js';
import { compileIssuerKey } from '../tickets/issuer-key.js';
import { createTicketVerifier, type IssuersOption } from '../tickets/ticket-verifier.js';
import { UsageError } from './usage-error.js';

export interface LoadedKeys {
  readonly jwks: JwkSet;
  readonly count: number;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unreadable';
}

/** The JSON object in a file, or a one-line UsageError naming the flag, the file and what is wrong. */
export function readJsonObjectFile(path: string, flag: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag} ${path}: cannot read the file (${errorCode(error)})`);
  }
  const parsed = parseStrictJsonObject(text);
  if (parsed === undefined) throw new UsageError(`${flag} ${path}: not a JSON object, or a member name is repeated`);
  return parsed;
}

/**
 * A verifier JWK Set file (PROTOCOL.md §2.3), checked now with the same compilation the
 * verifier runs, so a short HMAC secret or a key that does not fit its alg stops the command
 * at start with the key's index — never a stack trace, never at the first request.
 */
export function loadKeysFile(path: string, flag = '--keys'): LoadedKeys {
  const parsed = readJsonObjectFile(path, flag);
  if (!Array.isArray(parsed.keys)) throw new UsageError(`${flag} ${path}: not a JWK Set (it needs "keys": [ ... ])`);
  if (parsed.keys.length === 0) throw new UsageError(`${flag} ${path}: the JWK Set holds no keys`);
  const jwks = parsed as unknown as JwkSet;
  checked(flag, path, () => compileKeySource(jwks));
  return { jwks, count: jwks.keys.length };
}

/** Runs a compile step, turning its TypeError into a one-line UsageError naming flag and file. */
function checked<T>(flag: string, path: string, compile: () => T): T {
  try {
    return compile();
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`${flag} ${path}: ${error.message}`);
    throw error;
  }
}

/** `--issuer-key FILE`: the issuer's private ES256/EdDSA JWK (PROTOCOL.md §7.2). */
export function loadIssuerKeyFile(path: string, flag = '--issuer-key'): Record<string, unknown> {
  const jwk = readJsonObjectFile(path, flag);
  checked(flag, path, () => compileIssuerKey(jwk, 'the key'));
  return jwk;
}

/** `--issuers FILE`: `{ "<iss origin>": <JWK Set> | "<URL of its issuer-jwks>" }` (PROTOCOL.md §7.2). */
export function loadIssuersFile(path: string, flag = '--issuers'): { issuers: IssuersOption; count: number } {
  const issuers = readJsonObjectFile(path, flag) as IssuersOption;
  checked(flag, path, () => createTicketVerifier(issuers, 0));
  const count = Object.keys(issuers).length;
  if (count === 0) throw new UsageError(`${flag} ${path}: names no issuer`);
  return { issuers, count };
}
