import { readFileSync } from 'node:fs';
import { parseStrictJsonObject } from '../../shared/strict-json.js';
import { privateMemberOf } from '../../shared/public-jwk.js';
import type { JwkSet } from '../verify/key-source.js';
import type { IssuersOption } from '../verify/ticket-verifier.js';
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

function kidText(jwk: Record<string, unknown>): string {
  return typeof jwk.kid === 'string' ? ` (kid ${JSON.stringify(jwk.kid)})` : '';
}

/**
 * What a key file holds, in words for an error line: "one private JWK (kid "a")", "a JWK Set
 * (2 keys)". Undefined when it is neither, so the caller's own check speaks.
 */
export function describeKeyFile(parsed: Record<string, unknown>): string | undefined {
  if (Array.isArray(parsed.keys)) return `a JWK Set (${parsed.keys.length} key${parsed.keys.length === 1 ? '' : 's'})`;
  if (typeof parsed.kty === 'string') {
    const kind = privateMemberOf(parsed) !== undefined ? 'private' : parsed.kty === 'oct' ? 'secret' : 'public';
    return `one ${kind} JWK${kidText(parsed)}`;
  }
  return undefined;
}

/**
 * A verifier JWK Set file (PROTOCOL.md §2.3): what the CLI checks of the file itself. The keys
 * are the library's to check — the verifier compiles them once, when it is built, and a short
 * HMAC secret or a key that does not fit its alg stops the command at start, named by its
 * index (`--keys FILE: keys.keys[0]: …`). A private asymmetric key is refused here: the
 * verifier needs the public half, and a file it reads is no place for a client's signing key.
 */
export function loadKeysFile(path: string, flag = '--keys'): LoadedKeys {
  const parsed = readJsonObjectFile(path, flag);
  if (!Array.isArray(parsed.keys)) {
    const held = describeKeyFile(parsed);
    if (held !== undefined) {
      const wanted = held.startsWith('one private') ? 'a JWK Set of public keys' : 'a JWK Set';
      throw new UsageError(`${flag} ${path}: holds ${held}, where ${wanted} belongs: {"keys": [ ... ]}`);
    }
    throw new UsageError(`${flag} ${path}: not a JWK Set (it needs "keys": [ ... ])`);
  }
  if (parsed.keys.length === 0) throw new UsageError(`${flag} ${path}: the JWK Set holds no keys`);
  parsed.keys.forEach((key: unknown, i) => {
    if (typeof key !== 'object' || key === null) return; // the compilation below names it
    const member = privateMemberOf(key as Record<string, unknown>);
    if (member !== undefined) {
      throw new UsageError(
        `${flag} ${path}: keys[${i}]${kidText(key as Record<string, unknown>)} is a private key (it has "${member}"); the verifier needs only the public half`,
      );
    }
  });
  const jwks = parsed as unknown as JwkSet;
  return { jwks, count: jwks.keys.length };
}

/** Runs a library compile step, turning its TypeError into a one-line UsageError naming flag and file. */
export function compiledFromFile<T>(flag: string, path: string, compile: () => T): T {
  try {
    return compile();
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`${flag} ${path}: ${error.message}`);
    throw error;
  }
}

/**
 * `--issuer-key FILE`: the issuer's private ES256/EdDSA JWK (PROTOCOL.md §7.2), or — to rotate
 * it — a JWK Set whose first key is that private JWK and whose others are only published. The
 * issuer checks the keys itself.
 */
export function loadIssuerKeyFile(path: string, flag = '--issuer-key'): Record<string, unknown> {
  const jwk = readJsonObjectFile(path, flag);
  const held = describeKeyFile(jwk);
  if (held?.startsWith('a JWK Set')) {
    const first = (jwk.keys as unknown[])[0];
    if (typeof first === 'object' && first !== null && privateMemberOf(first as Record<string, unknown>) !== undefined) return jwk;
    throw new UsageError(
      `${flag} ${path}: holds ${held} whose first key is not private, where one private ES256/EdDSA JWK belongs (the issuer's signing key), or a JWK Set with it first`,
    );
  }
  if (held?.startsWith('one public')) throw new UsageError(`${flag} ${path}: holds ${held}, where the issuer's private JWK belongs (it has no "d")`);
  return jwk;
}

const ISSUERS_SHAPE = '{"https://edge.example.com": {"keys": [ ... ]} | "<URL of its issuer-jwks>"}';

/**
 * `--issuers FILE`: `{ "<issuer origin>": <JWK Set> | "<URL of its issuer-jwks>" }` (PROTOCOL.md §7.2); the verifier checks the entries.
 * An issuer's private key is refused here, as `--keys` refuses a client's: the verifier needs
 * only the public half, and a file it reads is no place for the key that signs tickets.
 */
export function loadIssuersFile(path: string, flag = '--issuers'): { issuers: IssuersOption; count: number } {
  const parsed = readJsonObjectFile(path, flag);
  const held = describeKeyFile(parsed);
  if (held !== undefined)
    throw new UsageError(`${flag} ${path}: holds ${held.startsWith('a JWK Set') ? 'a JWK Set' : held}, where a map of issuers belongs: ${ISSUERS_SHAPE}`);
  for (const [origin, entry] of Object.entries(parsed)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue; // a URL, or what the verifier names
    const record = entry as Record<string, unknown>;
    // one JWK where its JWK Set belongs is the verifier's to name, unless it is private
    const keys: unknown[] = Array.isArray(record.keys) ? record.keys : [record];
    keys.forEach((key, i) => {
      if (typeof key !== 'object' || key === null) return;
      const member = privateMemberOf(key as Record<string, unknown>);
      if (member === undefined) return;
      const where = Array.isArray(record.keys) ? `${JSON.stringify(origin)}.keys[${i}]` : JSON.stringify(origin);
      throw new UsageError(
        `${flag} ${path}: ${where}${kidText(key as Record<string, unknown>)} is a private key (it has "${member}"); the verifier needs only the issuer's public half`,
      );
    });
  }
  const issuers = parsed as IssuersOption;
  const count = Object.keys(issuers).length;
  if (count === 0) throw new UsageError(`${flag} ${path}: names no issuer`);
  return { issuers, count };
}
