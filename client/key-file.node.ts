import { readFile, stat } from 'node:fs/promises';
import { rejectUnknownOptions } from '../shared/options.js';
import { parseStrictJsonObject } from '../shared/strict-json.js';
import { IpStampClientError } from './client-error.js';
import { importSigningKey, type SigningKey } from './signing-key.js';

/** A key file is a few kB at most; a larger file is not one. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

const invalid = (cause?: unknown) => new IpStampClientError('ERR_IPSTAMP_KEY_FILE', cause === undefined ? undefined : { cause });

/** A file that cannot be read is no key file's fault: say which, and why (the system's code: ENOENT, EACCES, EISDIR…). */
function unreadable(path: string, cause: unknown): IpStampClientError {
  const code = (cause as { code?: unknown } | null)?.code;
  const why = typeof code === 'string' ? `: ${code}` : '';
  return new IpStampClientError('ERR_IPSTAMP_KEY_FILE', { cause, message: `cannot read the key file ${JSON.stringify(path)}${why}` });
}

function isPrivateJwk(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const jwk = value as Record<string, unknown>;
  return jwk.kty === 'oct' || typeof jwk.d === 'string';
}

/** The one private key in a JWK, or in a JWK Set (by `kid` when it holds several). */
function pickJwk(document: Record<string, unknown>, kid: string | undefined): Record<string, unknown> {
  if (!Array.isArray(document.keys)) {
    if (!isPrivateJwk(document) || (kid !== undefined && document.kid !== kid)) throw invalid();
    return document;
  }
  const candidates = document.keys.filter((k) => isPrivateJwk(k) && (kid === undefined || k.kid === kid));
  if (candidates.length !== 1) throw invalid();
  return candidates[0] as Record<string, unknown>;
}

/**
 * Reads a client key file — one private JWK (or `oct` secret) with `kid` and `alg`, or a JWK
 * Set holding one such key (or several, with `kid` naming one) — and imports it. The file's
 * text never reaches an error: JSON.parse messages quote the input, so parse failures
 * carry no cause.
 */
export async function loadStampKey(path: string, options: { kid?: string } = {}): Promise<SigningKey> {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a file path');
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, { kid: true });
  let text: string;
  try {
    if ((await stat(path)).size > MAX_KEY_FILE_BYTES) throw invalid();
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw error instanceof IpStampClientError ? error : unreadable(path, error);
  }
  const document = parseStrictJsonObject(text);
  if (document === undefined) throw invalid();
  const jwk = pickJwk(document, options.kid);
  try {
    return await importSigningKey(jwk as Parameters<typeof importSigningKey>[0]);
  } catch (error) {
    throw invalid(error);
  }
}
