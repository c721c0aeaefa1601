/** Where the gateway forwards: an http(s) origin and an optional base path every request path goes under. */
export interface UpstreamTarget {
  /** `http://127.0.0.1:9000` */
  readonly origin: string;
  /** `''` or a path without a trailing slash: `/api`. */
  readonly basePath: string;
}

/**
 * Reads `--upstream`: an http(s) URL with an optional path (`http://127.0.0.1:9000/api`),
 * no credentials, query or fragment. Undefined when it is not one.
 */
export function parseUpstreamUrl(raw: string): UpstreamTarget | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // `?` or `#` with nothing after it leaves search/hash empty: refuse them by the raw text too
  if (url.username || url.password || url.search || url.hash || /[?#]/.test(raw)) return undefined;
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}

/** `--upstream http://u/api` and `/x?q=1` → `/api/x?q=1`; `/` → `/api/`. The request target is kept byte for byte. */
export function upstreamPath(target: UpstreamTarget, requestTarget: string): string {
  return `${target.basePath}${requestTarget.startsWith('/') ? requestTarget : `/${requestTarget}`}`;
}

/** For the start line and logs: `http://127.0.0.1:9000/api`. */
export function describeUpstream(target: UpstreamTarget): string {
  return `${target.origin}${target.basePath}`;
}
