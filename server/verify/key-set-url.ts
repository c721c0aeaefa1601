/**
 * Where keys may be fetched from — stamp keys (remote-key-set.ts) and ticket issuers' keys
 * (ticket-verifier.ts) alike. No platform import, so the web verifier can load it.
 */

const LOOPBACK_HOSTS = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** A URL keys may be fetched from: https, or http to a loopback address, with no credentials. */
export function keySetUrl(url: unknown): URL {
  let parsed: URL;
  try {
    parsed = new URL(url instanceof URL ? url.href : (url as string));
  } catch {
    throw new TypeError('url must be an https URL (http only to a loopback address)');
  }
  const ok = parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK_HOSTS.test(parsed.hostname));
  // keys fetched in the clear could be swapped on the way: a forged key accepts forged stamps
  if (!ok || parsed.username !== '' || parsed.password !== '') throw new TypeError('url must be an https URL (http only to a loopback address)');
  return parsed;
}
