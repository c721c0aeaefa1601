export const SECRET_IN_BROWSER_WARNING =
  'ipstamp: an HMAC (HS*) key is being used in a browser. Anything shipped to a page is public: ' +
  'whoever loads the page can read this secret and sign stamps for any address. ' +
  'Use generateStampKey() (a non-extractable ES256/EdDSA key) and register its public key instead.';

let warned = false;

/** A page or a worker: places where whatever the client holds is readable by its user. */
function inBrowser(): boolean {
  const scope = globalThis as { document?: unknown; window?: unknown; importScripts?: unknown };
  return (typeof scope.window !== 'undefined' && typeof scope.document !== 'undefined') || typeof scope.importScripts === 'function';
}

/**
 * Warns once per page (never in Node or other servers) when a shared HMAC secret signs in a
 * browser: it is allowed — a page may stamp for a test server — but it proves nothing about
 * who signed (PROTOCOL.md §2.3).
 */
export function warnIfSecretKeyInBrowser(alg: string): void {
  if (warned || !alg.startsWith('HS') || !inBrowser()) return;
  warned = true;
  console.warn(SECRET_IN_BROWSER_WARNING);
}

/** Tests only: makes the next call warn again. */
export function resetSecretKeyWarning(): void {
  warned = false;
}
