import { createPrivateKey, createPublicKey, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type IpStampError, refusalError } from '../../shared/errors.js';
import { normalizeOrigin } from '../../shared/htu.js';
import { rejectUnknownOptions, type OptionNames } from '../../shared/options.js';
import { misusedKeyProblem, publicJwkOf } from '../../shared/public-jwk.js';
import { REASON_STATUS, type Reason } from '../../shared/reasons.js';
import { isKid, MAX_STAMP_BYTES, MAX_TICKET_LIFETIME, STAMP_HEADER, TICKET_ALGS, TICKET_TYP, type TicketAlg } from '../../shared/constants.js';
import type { TicketRequestClaims, TicketRequestHeader, TicketResponse } from '../../shared/ticket-schema.js';
import { matchesTicketRequestClaims, matchesTicketRequestHeader } from '../../shared/token-checks.js';
import { compactHeaderValue, decodeJsonSegment, splitCompact } from '../jws/compact.js';
import { algsOfClientKey, importClientKey, jwkThumbprint } from '../jws/public-jwk.js';
import { verifySignature } from '../jws/signature.js';
import { isReplayStoreFullError, type ReplayStore } from '../stores/replay-store.js';
import { bindingMatches } from '../verify/binding.js';
import { claimsBreakRules, freshnessFailure, replayTtlMs } from '../verify/claim-rules.js';
import type { JwkSet } from '../verify/key-source.js';
import { networkHints } from '../verify/network-hints.js';
import { compileOptions, type VerifierOptions } from '../verify/options.js';
import { nodePlatform } from '../verify/node-platform.js';
import type { NetworkHints, VerifyInput } from '../verify/types.js';

export interface TicketIssuerOptions extends Pick<
  VerifierOptions,
  'maxAge' | 'skew' | 'now' | 'trustedProxies' | 'forwardedHeader' | 'protoHeader' | 'origins'
> {
  /**
   * The issuer's private ES256 or EdDSA JWK, with kid; or, to rotate it, a JWK Set whose first
   * key signs and whose other keys are published too (`createIssuerKeys` to replace them at run time).
   */
  key: IssuerKeyInput | IssuerKeys;
  /** The issuer origin, written as `iss`. Default: the origin the client's proof was bound to (a pinned origin, else Host's). */
  origin?: string;
  /** Ticket lifetime in seconds. Default 300, at most 600. */
  lifetime?: number;
  /** Where proof (thumbprint, jti) pairs are remembered: proofs are single use too. */
  replayStore: ReplayStore;
}

export type IssueResult =
  | ({ ok: true; hints: NetworkHints } & TicketResponse)
  | {
      ok: false;
      reason: Reason;
      status: 401 | 403 | 503;
      error: IpStampError;
      hints: NetworkHints;
      /** With `store-unavailable` from a store that had no room: `full`, as a verifier's refusal says. */
      store?: 'full';
    };

export interface TicketIssuer {
  /** The public JWK Set to publish at /.well-known/ipstamp/issuer-jwks (every key of `key`, read anew after a reload). */
  readonly jwks: JwkSet;
  /** PROTOCOL.md §7.1: checks the proof in `Client-IP-Attestation`, then signs what the network observed. */
  issue(input: VerifyInput): Promise<IssueResult>;
}

const TICKET_ISSUER_OPTION_NAMES: OptionNames<TicketIssuerOptions> = Object.freeze({
  key: true,
  origin: true,
  lifetime: true,
  replayStore: true,
  maxAge: true,
  skew: true,
  now: true,
  trustedProxies: true,
  forwardedHeader: true,
  protoHeader: true,
  origins: true,
});

export function createTicketIssuer(options: TicketIssuerOptions): TicketIssuer {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  // renamed in 0.x: an old `issuer` would otherwise be ignored, and iss silently follow Host
  if (Object.hasOwn(options, 'issuer')) throw new TypeError('issuer is now called origin (the issuer origin written as iss)');
  rejectUnknownOptions(options, TICKET_ISSUER_OPTION_NAMES);
  const keys = issuerKeysOf(options.key, 'key');
  const lifetime = options.lifetime ?? 300;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_TICKET_LIFETIME) {
    throw new TypeError(`lifetime must be a whole number of seconds from 1 to ${MAX_TICKET_LIFETIME}`);
  }
  const configuredIss = options.origin === undefined ? undefined : normalizeOrigin(options.origin);
  if (options.origin !== undefined && !configuredIss) throw new TypeError('origin must be an http(s) origin like https://edge.example.com');
  // the proof is checked like a stamp (§5 steps 2–10), so it shares the verifier's option checks
  const opts = compileOptions({ ...options, keys: { keys: [] } }, nodePlatform);

  const reject = (reason: Reason, hints: NetworkHints): Extract<IssueResult, { ok: false }> => ({
    ok: false,
    reason,
    status: REASON_STATUS[reason],
    error: refusalError(reason),
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
    // the schemas' compiled twins (shared/token-checks.ts): no zod schema is built in a server
    if (!headerJson || !matchesTicketRequestHeader(headerJson)) return reject('bad-header', hints);
    const { alg, jwk } = headerJson as TicketRequestHeader;
    // a key its owner marked for something else verifies no proof, as the key registry refuses it
    if (misusedKeyProblem(jwk as Record<string, unknown>, 'verify') !== undefined) return reject('bad-header', hints);
    const clientKey = importClientKey(jwk);
    if (!clientKey) return reject('bad-header', hints);
    if (!algsOfClientKey(jwk).includes(alg) || !verifySignature(alg, clientKey, parts.signingInput, parts.signature)) {
      return reject('bad-signature', hints);
    }

    const claimsJson = decodeJsonSegment(parts.payloadSegment);
    if (!claimsJson || !matchesTicketRequestClaims(claimsJson)) return reject('bad-claims', hints);
    const proof = claimsJson as TicketRequestClaims;
    // exp as §2.2 has it; a tth on a proof is an unknown claim, ignored
    if (claimsBreakRules({ iat: proof.iat, exp: proof.exp }, opts.maxAge)) return reject('bad-claims', hints);
    const nowMs = opts.now();
    const stale = freshnessFailure(proof, nowMs, opts);
    if (stale) return reject(stale, hints);
    if (!(await bindingMatches(proof, input, opts, hints))) return reject('binding-mismatch', hints);

    const thumbprint = jwkThumbprint(jwk);
    try {
      if (!(await options.replayStore.insertIfAbsent(`${thumbprint} ${proof.jti}`, replayTtlMs(proof.iat, nowMs, opts)))) {
        return reject('replay', hints);
      }
    } catch (error) {
      // an issuer never signs without its replay check
      return isReplayStoreFullError(error) ? { ...reject('store-unavailable', hints), store: 'full' } : reject('store-unavailable', hints);
    }

    if (hints.observed === undefined) return reject('ip-unverifiable', hints);
    // unless configured, iss is the origin the proof was bound to: the pinned one, or Host's
    const iss = configuredIss ?? proof.htu.slice(0, proof.htu.indexOf('/', proof.htu.indexOf('//') + 2));

    const iat = Math.floor(nowMs / 1000);
    const exp = iat + lifetime;
    const claims = { iss, ip: hints.observed, iat, exp, jti: randomBytes(16).toString('base64url'), cnf: { jwk: publicJwkOf(jwk) } };
    const key = keys.signing; // read once: a reload between here and the signature cannot mix two keys
    const signingInput = `${key.header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const ticket = `${signingInput}.${key.sign(signingInput).toString('base64url')}`;
    return { ok: true, ticket, ip: hints.observed, exp, hints };
  }

  return {
    get jwks() {
      return keys.jwks;
    },
    issue,
  };
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
  if (!isKid(kid)) throw new TypeError(`${option}.kid must be 1–128 characters of [A-Za-z0-9._:-]`);
  if (!(TICKET_ALGS as readonly unknown[]).includes(alg)) throw new TypeError(`${option}.alg must be ES256 or EdDSA`);
  if (typeof d !== 'string') throw new TypeError(`${option} must be a private key (it has no "d")`);
  const misused = misusedKeyProblem(jwk as Record<string, unknown>, 'sign');
  if (misused !== undefined) throw new TypeError(`${option}.${misused}`);
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

/** One private JWK (it signs), or a JWK Set whose first key is private and signs while the others are only published. */
export type IssuerKeyInput = Record<string, unknown> | JwkSet;

/**
 * The issuer's keys, replaceable while it runs (key rotation, docs/key-rotation.md): the key
 * that signs and the public JWK Set published at issuer-jwks — the next key before it signs,
 * the previous one while tickets it signed live.
 */
export interface IssuerKeys {
  /** The kid that signs now. */
  readonly kid: string;
  /** The public JWK Set published now. */
  readonly jwks: JwkSet;
  /** Replaces the keys; a TypeError (naming the key) leaves the keys in use. */
  reload(input: IssuerKeyInput): void;
}

interface SigningKey extends IssuerKey {
  /** The ticket's JOSE header, encoded once per key. */
  readonly header: string;
}

const issuerKeyState = new WeakMap<IssuerKeys, () => SigningKey>();

/** The public JWK of an entry that only is published: a public or private ES256/EdDSA JWK with kid. */
function publishedJwk(jwk: unknown, where: string): Record<string, unknown> {
  if (typeof jwk === 'object' && jwk !== null && typeof (jwk as { d?: unknown }).d === 'string') return compileIssuerKey(jwk, where).jwks.keys[0]!;
  if (typeof jwk !== 'object' || jwk === null) throw new TypeError(`${where} must be a JWK`);
  const { kid, alg } = jwk as { kid?: unknown; alg?: unknown };
  if (!isKid(kid)) throw new TypeError(`${where}.kid must be 1–128 characters of [A-Za-z0-9._:-]`);
  if (!(TICKET_ALGS as readonly unknown[]).includes(alg)) throw new TypeError(`${where}.alg must be ES256 or EdDSA`);
  const misused = misusedKeyProblem(jwk as Record<string, unknown>, 'verify');
  if (misused !== undefined) throw new TypeError(`${where}.${misused}`);
  const members = publicJwkOf(jwk);
  let publicKey: KeyObject;
  try {
    if (members === undefined) throw new Error('not EC/OKP');
    publicKey = createPublicKey({ key: members, format: 'jwk' });
  } catch {
    throw new TypeError(`${where} is not a valid public JWK`);
  }
  const curve = publicKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : publicKey.asymmetricKeyDetails?.namedCurve;
  if (curve !== CURVE[alg as TicketAlg]) throw new TypeError(`${where} does not fit alg ${String(alg)}`);
  return { ...members, kid, alg, use: 'sig' };
}

function compileIssuerKeys(input: unknown, option: string): { signing: SigningKey; jwks: JwkSet } {
  const set =
    typeof input === 'object' && input !== null && Array.isArray((input as { keys?: unknown }).keys) ? (input as { keys: unknown[] }).keys : undefined;
  if (set !== undefined && set.length === 0) throw new TypeError(`${option}.keys must hold the signing key first`);
  const first = compileIssuerKey(set === undefined ? input : set[0], set === undefined ? option : `${option}.keys[0]`);
  const published = [first.jwks.keys[0]!];
  set?.slice(1).forEach((jwk, i) => {
    const where = `${option}.keys[${i + 1}]`;
    const pub = publishedJwk(jwk, where);
    if (published.some((k) => k.kid === pub.kid)) throw new TypeError(`${where}: duplicate kid`);
    published.push(pub);
  });
  const header = Buffer.from(JSON.stringify({ alg: first.alg, typ: TICKET_TYP, kid: first.kid })).toString('base64url');
  return { signing: { ...first, header }, jwks: Object.freeze({ keys: Object.freeze(published) }) };
}

/**
 * The issuer's keys, to pass as `key` and replace later with `reload()`: one private JWK, or
 * `{ keys: [signing, ...published] }`. Throws TypeError naming the key at once.
 */
export function createIssuerKeys(input: IssuerKeyInput, option = 'key'): IssuerKeys {
  let current = compileIssuerKeys(input, option);
  const keys: IssuerKeys = {
    get kid() {
      return current.signing.kid;
    },
    get jwks() {
      return current.jwks;
    },
    reload(next) {
      current = compileIssuerKeys(next, option);
    },
  };
  issuerKeyState.set(keys, () => current.signing);
  return keys;
}

/** The `key` option compiled: an IssuerKeys made by createIssuerKeys is used as it is (and follows its reloads). */
function issuerKeysOf(input: IssuerKeyInput | IssuerKeys, option: string): { readonly signing: SigningKey; readonly jwks: JwkSet } {
  const made = typeof input === 'object' && input !== null ? issuerKeyState.get(input as IssuerKeys) : undefined;
  const keys = made !== undefined ? (input as IssuerKeys) : createIssuerKeys(input as IssuerKeyInput, option);
  const signing = issuerKeyState.get(keys)!;
  return {
    get signing() {
      return signing();
    },
    get jwks() {
      return keys.jwks;
    },
  };
}
