import { STAMP_HEADER } from '../../shared/constants.js';
import { MemoryReplayStore } from '../stores/memory.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { VERIFIER_OPTION_NAMES, type VerifierOptions, type VerifierSettings } from '../verify/options.js';
import type { RequestScheme } from '../verify/scheme.js';
import type { ConnectionHints, HeaderMap, NetworkHints, VerifyInput, VerifyResult } from '../verify/types.js';
import { createVerifierPipeline, type Verifier } from '../verify/verifier.js';
import { webPlatform } from '../verify/web-platform.js';
import { EMPTY_BODY, headersAnnounceBody } from '../verify/request-body.js';
import { webCompactCodec } from '../jws/web-bytes.js';

/**
 * What the runtime reports about the connection a Request came on — read when the request
 * arrived (Bun: `server.requestIP(request)`, Deno: `info.remoteAddr`, Cloudflare: the
 * `CF-Connecting-IP` the platform sets). `l3` is the peer: `null`, `undefined`, `0.0.0.0`,
 * `::` or `0.0.0.0:0` (what some runtimes answer after a client reset) is an unknown peer,
 * and every stamp from it is refused `ip-unverifiable` (PROTOCOL.md §4).
 */
export interface WebConnection extends Omit<ConnectionHints, 'l3'> {
  /** The peer address as the runtime gives it: `203.0.113.7`, `[2001:db8::1]:443`, `::ffff:…`. */
  l3: string | null | undefined;
}

export type WebVerifierOptions = Omit<VerifierOptions, 'replayStore'> & {
  /**
   * Where (kid, jti) pairs are remembered. Default: a `MemoryReplayStore` — in one isolate
   * only: an edge platform runs many, so share an atomic store (a Durable Object) there.
   */
  replayStore?: ReplayStore;
  /** The most body bytes read for a `cdg` check. Default 1 MiB; a stamp with `cdg` on a larger (or unannounced) body fails closed. */
  bodyLimit?: number;
};

export interface WebVerifySettings extends VerifierSettings {
  /** The most body bytes read for a `cdg` check. */
  readonly bodyLimit: number;
}

export interface WebVerifyOptions {
  /** Is a stamp required on this request? Default true; false answers `{ ok: true, verdict: null }` for an unstamped request. */
  required?: boolean;
}

/** The web verifier: the same pipeline as `createVerifier`, on WebCrypto, fed a web `Request`. */
export interface WebVerifier {
  /** PROTOCOL.md §5 (and §7.4) for a Request, the body read from a clone when the stamp has `cdg`. Never throws for bad input. */
  verify(request: Request, connection: WebConnection, options?: WebVerifyOptions): Promise<VerifyResult>;
  /** The same checks for plain data, as `Verifier.verify` takes it. */
  verifyInput(input: VerifyInput): Promise<VerifyResult>;
  /** The network's view of a request (PROTOCOL.md §4): what the echo route answers and rate limits key on. */
  hints(request: Request, connection: WebConnection): NetworkHints;
  /** The scheme the client used, from trusted evidence only (see `Verifier.scheme`). */
  scheme(request: Request, connection: WebConnection): RequestScheme;
  /** What this verifier runs with, every default filled in: frozen, read-only. */
  readonly settings: WebVerifySettings;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Every option of `createWebVerifier` by name; `ipstamp/hono/web` adds its own to these. */
export const WEB_VERIFIER_OPTION_NAMES: OptionNames<WebVerifierOptions> = Object.freeze({ ...VERIFIER_OPTION_NAMES, bodyLimit: true });

/** Headers as the core reads them: lower-case names (Headers gives them so), repeats joined with ", ". */
function headerMapOf(request: Request, url: URL): Record<string, string> {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  // a Request built in code may carry no Host: its URL names it
  if (headers.host === undefined) headers.host = url.host;
  return headers;
}

/**
 * The exact body bytes for `cdg`, from a clone (the handler still reads the body): empty for a
 * request without a body; read only when the stamp asks and `Content-Length` announces a body
 * within the limit — the Hono adapter's rule. A chunked or larger body stays unknown
 * (`undefined`) and its `cdg` fails closed, so nothing is read unbounded before verification.
 */
async function bodyForDigest(request: Request, headers: HeaderMap, limit: number): Promise<Uint8Array | undefined> {
  // a body the runtime dropped (a GET's, a HEAD's) is unknown, not empty
  if (request.body === null) return headersAnnounceBody(headers) ? undefined : EMPTY_BODY;
  if (!webCompactCodec.payloadDeclares(headers[STAMP_HEADER], 'cdg')) return undefined;
  const length = headers['content-length'];
  if (typeof length !== 'string' || !/^\d{1,15}$/.test(length) || Number(length) > limit) return undefined;
  try {
    const bytes = new Uint8Array(await request.clone().arrayBuffer());
    // a body longer than it announced is not the body the client signed for
    return bytes.length > limit ? undefined : bytes;
  } catch {
    return undefined; // a body already read, or a reset stream: no digest can match
  }
}

function connectionHintsOf(connection: WebConnection): ConnectionHints {
  if (typeof connection !== 'object' || connection === null) return { l3: undefined };
  return connection;
}

/**
 * `createWebVerifier(options)`: the verifier for web-standard runtimes — Cloudflare Workers,
 * Deno, Bun, browsers, and Node too — with no `node:` module and no Buffer. Same options,
 * checks, order, reasons and verdicts as `createVerifier` (one pipeline, two platforms:
 * test/web/differential.property.test.ts); signatures and digests through WebCrypto.
 */
export function createWebVerifier(options: WebVerifierOptions): WebVerifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, WEB_VERIFIER_OPTION_NAMES);
  const { bodyLimit = DEFAULT_BODY_LIMIT, ...rest } = options;
  if (!(Number.isSafeInteger(bodyLimit) && bodyLimit >= 0)) throw new TypeError('bodyLimit must be a whole number of bytes');
  const replayStore = rest.replayStore ?? new MemoryReplayStore(rest.now ? { now: rest.now } : {});
  const core: Verifier = createVerifierPipeline({ ...rest, replayStore }, webPlatform);

  const partsOf = (request: Request, connection: WebConnection) => {
    const url = new URL(request.url);
    const headers = headerMapOf(request, url);
    const hints = connectionHintsOf(connection);
    const protocol: 'http' | 'https' = url.protocol === 'https:' ? 'https' : 'http';
    return { url, headers, hints, protocol };
  };

  return Object.freeze({
    async verify(request: Request, connection: WebConnection, verifyOptions?: WebVerifyOptions): Promise<VerifyResult> {
      const { url, headers, hints, protocol } = partsOf(request, connection);
      return core.verify({
        method: request.method,
        url: `${url.pathname}${url.search}`,
        headers,
        body: await bodyForDigest(request, headers, bodyLimit),
        protocol,
        hints,
        required: verifyOptions?.required ?? true,
      });
    },
    verifyInput: (input: VerifyInput) => core.verify(input),
    hints(request: Request, connection: WebConnection): NetworkHints {
      const { headers, hints } = partsOf(request, connection);
      return core.hints({ headers, hints });
    },
    scheme(request: Request, connection: WebConnection): RequestScheme {
      const { headers, hints, protocol } = partsOf(request, connection);
      return core.scheme({ headers, hints, protocol });
    },
    settings: Object.freeze({ ...core.settings, bodyLimit }),
  });
}
