import type { HeaderMap } from './types.js';

/** A Node request as far as its headers go (structural, so this layer loads no `node:` module). */
export interface NodeHeaderLines {
  readonly headers: HeaderMap;
  readonly rawHeaders?: readonly string[];
}

const isHost = (name: string): boolean => name.length === 4 && name.toLowerCase() === 'host';

/**
 * The headers of a Node request as the verifier reads them. Node keeps the first of several
 * Host lines and drops the others, where a web `Headers` (the web verifier's view) joins them
 * with ", ". A request with more than one Host line names no one origin (RFC 9112 §3.2), so its
 * Host is the lines joined, as the web verifier sees it: unusable, the binding fails (§5.1).
 */
export function headersOf(req: NodeHeaderLines): HeaderMap {
  const raw = req.rawHeaders;
  if (raw === undefined) return req.headers;
  let lines = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) if (isHost(raw[i]!)) lines++;
  if (lines < 2) return req.headers;
  const hosts: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (isHost(raw[i]!)) hosts.push(raw[i + 1]!);
  return { ...req.headers, host: hosts.join(', ') };
}
