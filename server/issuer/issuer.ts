import { createPrivateKey, createPublicKey, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { IpStampError } from '../../shared/errors.js';
import { normalizeOrigin } from '../../shared/htu.js';
import { publicJwkOf } from '../../shared/public-jwk.js';
import { REASON_STATUS, type Reason } from '../../shared/reasons.js';
import { kidSchema, MAX_STAMP_BYTES, STAMP_HEADER } from '../../shared/schema.js';
import {
  MAX_TICKET_LIFETIME,
  TICKET_ALGS,
  TICKET_TYP,
  ticketRequestClaimsSchema,
  ticketRequestHeaderSchema,
  type TicketAlg,
  type TicketResponse,
} from '../../shared/ticket-schema.js';
import { compactHeaderValue, decodeJsonSegment, splitCompact } from '../jws/compact.js';
import { algsOfClientKey, importClientKey, jwkThumbprint } from '../jws/public-jwk.js';
import { verifySignature } from '../jws/signature.js';
import type { ReplayStore } from '../stores/replay-store.js';
import { bindingMatches } from '../verify/binding.js';
import { freshnessFailure, replayTtlMs } from '../verify/claim-rules.js';
import type { JwkSet } from '../verify/key-source.js';
import { networkHints } from '../verify/network-hints.js';
import { compileOptions, type VerifierOptions } from '../verify/options.js';
import { nodePlatform } from '../verify/node-platform.js';
import type { NetworkHints, VerifyInput } from '../verify/types.js';

export interface TicketIssuerOptions extends Pick<
  VerifierOptions,
  'maxAge' | 'skew' | 'now' | 'trustedProxies' | 'forwardedHeader' | 'protoHeader' | 'origins'
> {
  /** The issuer's private ES256 or EdDSA JWK, with kid. */
  key: Record<string, unknown>;
  /** The issuer origin, written as `iss`. Default: the origin the client's proof was bound to (a pinned origin, else Host's). */
  origin?: string;
  /** Ticket lifetime in seconds. Default 300, at most 600. */
  lifetime?: number;
  /** Where proof (thumbprint, jti) pairs are remembered: proofs are single use too. */
  replayStore: ReplayStore;
}

export type IssueResult =
  ({ ok: true; hints: NetworkHints } & TicketResponse) | { ok: false; reason: Reason; status: 401 | 403 | 503; error: IpStampError; hints: NetworkHints };

export interface TicketIssuer {
  /** The public JWK Set to publish at /.well-known/ipstamp/issuer-jwks. */
  readonly jwks: JwkSet;
  /** PROTOCOL.md §7.1: checks the proof in `Client-IP-Attestation`, then signs what the network observed. */
  issue(input: VerifyInput): Promise<IssueResult>;
}

export function createTicketIssuer(options: TicketIssuerOptions): TicketIssuer {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const key = compileIssuerKey(options.key, 'key');
  const lifetime = options.lifetime ?? 300;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_TICKET_LIFETIME) {
    throw new TypeError(`lifetime must be a whole number of seconds from 1 to ${MAX_TICKET_LIFETIME}`);
  }
  // renamed in 0.x: an old `issuer` would otherwise be ignored, and iss silently follow Host
  if (Object.hasOwn(options, 'issuer')) throw new TypeError('issuer is now called origin (the issuer origin written as iss)');
  const configuredIss = options.origin === undefined ? undefined : normalizeOrigin(options.origin);
  if (options.origin !== undefined && !configuredIss) throw new TypeError('origin must be an http(s) origin like https://edge.example.com');
  // the proof is checked like a stamp (§5 steps 2–10), so it shares the verifier's option checks
  const opts = compileOptions({ ...options, keys: { keys: [] } }, nodePlatform);
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ: TICKET_TYP, kid: key.kid })).toString('base64url');

  const reject = (reason: Reason, hints: NetworkHints): IssueResult => ({
    ok: false,
    reason,
    status: REASON_STATUS[reason],
    error: new IpStampError(reason),
    hints,
  });

  async function issue(input: VerifyInput): Promise<IssueResult> {
    const hints = networkHints(input, opts);
    const raw = input.headers[STAMP_HEADER];
    if (raw === undefined) return reject('missing', hints);
    const token = compactHeaderValue(raw);
    if (token === undefined || token.length > MAX_STAMP_BYTES) return reject('malformed', hints);
    const parts = splitCompact(token);
    if (!parts) return reject('malformed', hints);

    const headerJson = decodeJsonSegment(parts.headerSegment);
    const proofHeader = headerJson && ticketRequestHeaderSchema.safeParse(headerJson);
    if (!proofHeader?.success) return reject('bad-header', hints);
    const { alg, jwk } = proofHeader.data;
    const clientKey = importClientKey(jwk);
    if (!clientKey) return reject('bad-header', hints);
    if (!algsOfClientKey(jwk).includes(alg) || !verifySignature(alg, clientKey, parts.signingInput, parts.signature)) {
      return reject('bad-signature', hints);
    }

    const claimsJson = decodeJsonSegment(parts.payloadSegment);
    const proof = claimsJson && ticketRequestClaimsSchema.safeParse(claimsJson);
    if (!proof?.success) return reject('bad-claims', hints);
    const nowMs = opts.now();
    const stale = freshnessFailure(proof.data, nowMs, opts);
    if (stale) return reject(stale, hints);
    if (!(await bindingMatches(proof.data, input, opts, hints))) return reject('binding-mismatch', hints);

    const thumbprint = jwkThumbprint(jwk);
    try {
      if (!(await options.replayStore.insertIfAbsent(`${thumbprint} ${proof.data.jti}`, replayTtlMs(proof.data.iat, nowMs, opts)))) {
        return reject('replay', hints);
      }
    } catch {
      return reject('store-unavailable', hints); // an issuer never signs without its replay check
    }

    if (hints.observed === undefined) return reject('ip-unverifiable', hints);
    // unless configured, iss is the origin the proof was bound to: the pinned one, or Host's
    const iss = configuredIss ?? proof.data.htu.slice(0, proof.data.htu.indexOf('/', proof.data.htu.indexOf('//') + 2));

    const iat = Math.floor(nowMs / 1000);
    const exp = iat + lifetime;
    const claims = { iss, ip: hints.observed, iat, exp, jti: randomBytes(16).toString('base64url'), cnf: { jwk: publicJwkOf(jwk) } };
    const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const ticket = `${signingInput}.${key.sign(signingInput).toString('base64url')}`;
    return { ok: true, ticket, ip: hints.observed, exp, hints };
  }

  return { jwks: key.jwks, issue };
}

/** The issuer's signing key, imported once, with the public JWK Set it publishes. */
export interface IssuerKey {
  readonly kid: string;
  readonly alg: TicketAlg;
  readonly sign: (signingInput: string) => Buffer;
  readonly jwks: JwkSet;
}

const CURVE: Record<TicketAlg, string> = { ES256: 'prime256v1', EdDSA: 'ed25519' };

/** Throws TypeError naming `option` for anything but a private ES256 (P-256) or EdDSA (Ed25519) JWK with a kid. */
export function compileIssuerKey(jwk: unknown, option = 'issuerKey'): IssuerKey {
  if (typeof jwk !== 'object' || jwk === null) throw new TypeError(`${option} must be a private JWK`);
  const { kid, alg, d } = jwk as { kid?: unknown; alg?: unknown; d?: unknown };
  if (!kidSchema.safeParse(kid).success) throw new TypeError(`${option}.kid must be 1–128 characters of [A-Za-z0-9._:-]`);
  if (!(TICKET_ALGS as readonly unknown[]).includes(alg)) throw new TypeError(`${option}.alg must be ES256 or EdDSA`);
  if (typeof d !== 'string') throw new TypeError(`${option} must be a private key (it has no "d")`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw new TypeError(`${option} is not a valid private JWK`);
  }
  const curve = privateKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : privateKey.asymmetricKeyDetails?.namedCurve;
  if (curve !== CURVE[alg as TicketAlg]) throw new TypeError(`${option} does not fit alg ${String(alg)}`);
  const publicJwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, alg, use: 'sig' };
  const signer =
    alg === 'ES256'
      ? (input: string) => sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : (input: string) => sign(null, Buffer.from(input), privateKey);
  return { kid: kid as string, alg: alg as TicketAlg, sign: signer, jwks: { keys: [publicJwk] } };
}
