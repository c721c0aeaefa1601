import { createWebVerifier } from '../../server/web/index.js';
import type { VectorHeaderValue } from './vector-format.js';
import type { ConformanceAdapter, ConformanceRun, ConformanceVector } from './vector-format.js';
import { outcomeOf, verifierOptionsOf, verifyInputOf } from './ipstamp-adapter.js';

/**
 * ipstamp/web (`createWebVerifier`, WebCrypto and the pure-JavaScript CIDR list), fed each
 * vector as a web `Request` and the connection a runtime reports — the way a Worker calls it.
 * A vector a `Request` cannot carry faithfully goes through `verifyInput` as plain data
 * instead: a header sent more than once (a `Headers` joins the instances, where Node keeps
 * them apart), a method `Request` refuses, a request-target that is not a path. No vector is
 * skipped; `requestCount` says how many took the Request path.
 */
export const webVerifierAdapter: ConformanceAdapter & { readonly counts: { request: number; plain: number } } = {
  name: 'ipstamp/web (createWebVerifier)',
  counts: { request: 0, plain: 0 },
  async run(vector, keys) {
    const nowMs = vector.now * 1000;
    const remembered: ConformanceRun['remembered'] = [];
    const verifier = createWebVerifier(verifierOptionsOf(vector, keys, nowMs, remembered));
    const input = verifyInputOf(vector);
    const request = requestOf(vector);
    if (request === undefined) {
      this.counts.plain++;
      return { outcome: outcomeOf(await verifier.verifyInput(input)), remembered };
    }
    this.counts.request++;
    const { hints } = input;
    const result = await verifier.verify(request, { ...hints, l3: hints.l3 }, { required: vector.request.required });
    return { outcome: outcomeOf(result), remembered };
  },
};

const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** The vector's request as a runtime would hand it over, or undefined when a Request cannot say it exactly. */
function requestOf(vector: ConformanceVector): Request | undefined {
  const { request, connection } = vector;
  const entries = Object.entries(request.headers) as [string, VectorHeaderValue][];
  if (entries.some(([, value]) => Array.isArray(value))) return undefined;
  if (!request.target.startsWith('/') || !/^[A-Z]+$/.test(request.method) || REFUSED_METHODS.has(request.method)) return undefined;
  const host = request.headers.host;
  if (typeof host !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(`${connection.tls ? 'https' : 'http'}://${host}${request.target}`);
  } catch {
    return undefined;
  }
  // the URL must give back the very target the client sent (no normalisation by the parser)
  if (`${url.pathname}${url.search}` !== request.target) return undefined;
  const body =
    request.body === undefined
      ? undefined
      : 'text' in request.body
        ? new TextEncoder().encode(request.body.text)
        : Uint8Array.from(atob(request.body.base64), (c) => c.charCodeAt(0));
  if (body !== undefined && (request.method === 'GET' || request.method === 'HEAD')) return undefined;
  const headers = new Headers();
  try {
    for (const [name, value] of entries) headers.set(name, value as string);
  } catch {
    return undefined; // a value Headers refuses (a control character)
  }
  if (headers.get('host') !== host) return undefined;
  // a body arrives with its length, which the web verifier reads it by (the Hono adapter's rule)
  if (body !== undefined && !headers.has('content-length')) headers.set('content-length', String(body.length));
  return new Request(url, { method: request.method, headers, ...(body === undefined ? {} : { body }) });
}
