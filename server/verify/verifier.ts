import { createHash } from 'node:crypto';
import { IpStampError } from '../../shared/errors.js';
import type { Reason } from '../../shared/reasons.js';
import { MAX_STAMP_BYTES, STAMP_HEADER, stampClaimsSchema, type StampClaims } from '../../shared/schema.js';
import { originFromHost } from '../../shared/htu.js';
import { compactHeaderValue } from './header-value.js';
import { compileOptions, type CompiledOptions, type VerifierOptions } from './options.js';
import { decodeJsonSegment, splitCompact } from './compact.js';
import { verifySignature } from './signature.js';
import { createHeaderDecoder } from './header-cache.js';
import { REASON_STATUS } from './status.js';
import { networkHints } from './network-hints.js';
import type { NetworkHints, Verdict, VerifyInput, VerifyResult } from './types.js';
import type { VerifierKey } from './verifier-key.js';

export interface Verifier {
  /** Runs PROTOCOL.md §5 in order. Never throws for bad input: the result says why. */
  verify(input: VerifyInput): Promise<VerifyResult>;
  readonly options: CompiledOptions;
}

/** The pure core: plain data in, a verdict out. Store and keys come in through the options. */
export function createVerifierCore(options: VerifierOptions): Verifier {
  const opts = compileOptions(options);
  const decodeHeader = createHeaderDecoder();

  const reject = (reason: Reason, hints: NetworkHints, kid?: string): VerifyResult => {
    const error = new IpStampError(reason);
    return kid === undefined
      ? { ok: false, reason, status: REASON_STATUS[reason], error, hints }
      : { ok: false, reason, status: REASON_STATUS[reason], error, hints, kid };
  };

  async function verify(input: VerifyInput): Promise<VerifyResult> {
    const hints = networkHints(input, opts);

    // 1–2: present, once, bounded, three base64url segments
    const raw = input.headers[STAMP_HEADER];
    if (raw === undefined) {
      return input.required === false ? { ok: true, verdict: null, hints } : reject('missing', hints);
    }
    const token = compactHeaderValue(raw);
    if (token === undefined || token.length > MAX_STAMP_BYTES) return reject('malformed', hints);
    const parts = splitCompact(token);
    if (!parts) return reject('malformed', hints);

    // 3: JOSE header
    const header = decodeHeader(parts.headerSegment);
    if (!header) return reject('bad-header', hints);
    const { alg, kid } = header;

    // 4–5: key by kid, alg pinned to the key, signature
    let key: VerifierKey | undefined;
    try {
      key = await opts.keySource(kid);
    } catch {
      key = undefined; // a failing key lookup is treated as an unknown key: fail closed
    }
    if (!key) return reject('unknown-key', hints, kid);
    if (key.alg !== alg || !verifySignature(alg, key.keyObject, parts.signingInput, parts.signature)) {
      return reject('bad-signature', hints, kid);
    }

    // 6: claims
    const claimsJson = decodeJsonSegment(parts.payloadSegment);
    const parsed = claimsJson && stampClaimsSchema.safeParse(claimsJson);
    if (!parsed?.success) return reject('bad-claims', hints, kid);
    const claims: StampClaims = parsed.data;
    if (claims.exp !== undefined && (claims.exp <= claims.iat || claims.exp > claims.iat + opts.maxAge)) {
      return reject('bad-claims', hints, kid);
    }
    if (claims.tth !== undefined) return reject('bad-claims', hints, kid); // tth belongs to tickets only

    // 7–8: freshness
    const nowMs = opts.now();
    const now = nowMs / 1000;
    if (claims.iat > now + opts.skew) return reject('not-yet-valid', hints, kid);
    if (now - claims.iat > opts.maxAge + opts.skew || (claims.exp !== undefined && now - opts.skew >= claims.exp)) {
      return reject('expired', hints, kid);
    }

    // 9: binding to this request
    if (!bindingMatches(claims, input, opts)) return reject('binding-mismatch', hints, kid);

    // 10: single use. The TTL runs to the last instant this stamp could still pass step 8;
    // a fixed maxAge+skew from first sight would fall short for an iat up to `skew` in the future.
    const ttlMs = Math.max(1000, Math.ceil((claims.iat + opts.maxAge + opts.skew + 1) * 1000 - nowMs));
    let replayChecked = true;
    try {
      const fresh = await opts.replayStore.insertIfAbsent(`${kid} ${claims.jti}`, ttlMs);
      if (!fresh) return reject('replay', hints, kid);
    } catch {
      if (opts.onStoreError !== 'accept') return reject('store-unavailable', hints, kid);
      replayChecked = false;
    }

    // 11: the key's allowed addresses
    if (key.allowedIps && !key.allowedIps.contains(claims.ip)) return reject('ip-not-allowed', hints, kid);

    // 12: agreement with the network
    let agreement: Verdict['agreement'];
    if (hints.observed === undefined) {
      if (opts.onUnverifiable === 'reject') return reject('ip-unverifiable', hints, kid);
      agreement = 'unverifiable';
    } else if (hints.observed === claims.ip) {
      agreement = 'match';
    } else {
      if (opts.onMismatch === 'reject') return reject('ip-mismatch', hints, kid);
      agreement = 'mismatch';
    }

    const verdict: Verdict = {
      ip: claims.ip,
      agreement,
      kid,
      alg,
      jti: claims.jti,
      iat: claims.iat,
      source: 'stamp',
      replayChecked,
      hints,
    };
    if (claims.exp !== undefined) verdict.exp = claims.exp;
    if (claims.obs !== undefined) verdict.obs = claims.obs;
    return { ok: true, verdict, hints };
  }

  return { verify, options: opts };
}

// Host headers repeat; URL parsing them does not need to. Bounded like every cache here.
const hostOrigins = new Map<string, string | null>();
function hostOrigin(host: string, scheme: 'http' | 'https'): string | undefined {
  const key = `${scheme} ${host}`;
  let origin = hostOrigins.get(key);
  if (origin === undefined) {
    origin = originFromHost(host, scheme) ?? null;
    if (hostOrigins.size >= 1024) hostOrigins.clear();
    hostOrigins.set(key, origin);
  }
  return origin ?? undefined;
}

function bindingMatches(claims: StampClaims, input: VerifyInput, opts: CompiledOptions): boolean {
  if (claims.htm !== input.method) return false;
  const query = input.url.indexOf('?');
  const path = query === -1 ? input.url : input.url.slice(0, query);
  const schemeEnd = claims.htu.indexOf('://') + 3;
  const pathStart = claims.htu.indexOf('/', schemeEnd);
  if (pathStart === -1 || claims.htu.slice(pathStart) !== path) return false;
  const origin = claims.htu.slice(0, pathStart);
  if (opts.origins) {
    if (!opts.origins.has(origin)) return false;
  } else {
    const host = input.headers.host;
    if (typeof host !== 'string' || hostOrigin(host, input.protocol ?? 'http') !== origin) return false;
  }
  if (claims.cdg !== undefined) {
    const digest = createHash('sha256')
      .update(input.body ?? new Uint8Array(0))
      .digest('base64url');
    if (digest !== claims.cdg) return false;
  } else if (opts.requireBodyDigest) {
    return false;
  }
  return true;
}
