/**
 * `htu` per RFC 9449 §4.3: the target URI without query and fragment, scheme and host in
 * lower case, default port omitted. WHATWG URL does exactly that normalization, and it is
 * also what fetch puts on the wire, so the path we sign is the path that is sent.
 */
export function normalizeHtu(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  return `${u.protocol}//${u.host}${u.pathname}`;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/**
 * The origin (`scheme://host[:port]`) in the same normalized form, or undefined when the text
 * is not an absolute http(s) origin without path, query or credentials.
 */
export function normalizeOrigin(origin: string): string | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return undefined;
  }
  if (!(u.protocol in DEFAULT_PORTS) || u.username || u.password || u.search || u.hash) return undefined;
  if (u.pathname !== '/') return undefined;
  return `${u.protocol}//${u.host}`;
}

/**
 * The origin of a request that arrived with this Host header, normalized (PROTOCOL.md §5.1:
 * lower case, the default port dropped); undefined when Host is unusable. WHATWG URL would also
 * percent-decode, map IDNA and rewrite numeric IPv4 forms; a Host that needs any of that is
 * refused, or one spelling would stand for another (`api%2eexample.com` for `api.example.com`)
 * where a proxy in front routes on the Host as written.
 */
export function originFromHost(host: string, scheme: 'http' | 'https'): string | undefined {
  if (host === '' || /[\s/?#@\\]/.test(host)) return undefined;
  const origin = normalizeOrigin(`${scheme}://${host}`);
  if (origin === undefined) return undefined;
  const written = host.toLowerCase();
  const normalized = origin.slice(scheme.length + 3);
  return normalized === written || `${normalized}:${DEFAULT_PORTS[`${scheme}:`]}` === written ? origin : undefined;
}
