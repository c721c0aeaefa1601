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

/**
 * Does `requestTarget` stay under the base path whoever reads it? Only an origin-form target
 * (it starts with `/`: no absolute-form, no `*`) whose path — the part before `?` — has no `.`
 * or `..` segment once `%2e` is read as `.`, and `%2f`, `%5c` and `\` as `/`, encoded once or
 * more (`%252e`: `%25` is `%`) (an upstream that
 * decodes them before it resolves dot-segments, as nginx does `%2F`, or reads `\` as `/`, as
 * WHATWG URL and IIS do), with a `;` ending the segment (`/..;/admin`: Tomcat's and Spring's
 * path parameters). Checked, never normalised: the stamp signed the raw path, so the raw path
 * is what goes, or nothing.
 */
export function isConfinedRequestTarget(requestTarget: string): boolean {
  if (!requestTarget.startsWith('/')) return false;
  const query = requestTarget.indexOf('?');
  const path = query === -1 ? requestTarget : requestTarget.slice(0, query);
  // a dot-segment needs a dot, written or encoded (once, or more: `%252e` is `%2e` to an
  // upstream that decodes twice, as IIS and some frameworks behind a decoding proxy do)
  if (!path.includes('.') && !/%(?:25)*2e/i.test(path)) return true;
  for (const segment of path.replace(/%(?:25)*2e/gi, '.').split(/\/|\\|%(?:25)*(?:2f|5c)/i)) {
    const parameters = segment.indexOf(';');
    const name = parameters === -1 ? segment : segment.slice(0, parameters);
    if (name === '.' || name === '..') return false;
  }
  return true;
}

/**
 * `--upstream http://u/api` and `/x?q=1` → `/api/x?q=1`; `/` → `/api/`. The request target is
 * kept byte for byte: the gateway forwards only targets `isConfinedRequestTarget` passes.
 */
export function upstreamPath(target: UpstreamTarget, requestTarget: string): string {
  return `${target.basePath}${requestTarget.startsWith('/') ? requestTarget : `/${requestTarget}`}`;
}

/** For the start line and logs: `http://127.0.0.1:9000/api`. */
export function describeUpstream(target: UpstreamTarget): string {
  return `${target.origin}${target.basePath}`;
}
