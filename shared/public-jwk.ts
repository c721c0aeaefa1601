/**
 * The public members of an EC or OKP JWK — the ones RFC 7638 §3.2 hashes, in its
 * lexicographic order — and nothing else: no private `d`, no `kid`, `alg`, `use`, `ext` or
 * `key_ops`. What a ticket's `cnf.jwk` and a proof header carry, what a thumbprint hashes,
 * what a key import needs. The one place that picks them (zod-free: browsers load it too).
 */

import { decodeBase64url } from './base64url.js';

// type literals, not interfaces: node:crypto's JsonWebKey wants an index signature
export type EcPublicJwk = { readonly crv: string; readonly kty: 'EC'; readonly x: string; readonly y: string };
export type OkpPublicJwk = { readonly crv: string; readonly kty: 'OKP'; readonly x: string };

export type PublicJwk = EcPublicJwk | OkpPublicJwk;

/** The members `publicJwkOf` keeps of a key already known to be EC or OKP, with their types. */
export type PublicMembersOf<K extends PublicJwk> = K extends { kty: 'EC' } ? Pick<K, 'crv' | 'kty' | 'x' | 'y'> : Pick<K, 'crv' | 'kty' | 'x'>;

/**
 * A new object holding `crv`, `kty`, `x` (and `y` for EC), in that order, so
 * `JSON.stringify(publicJwkOf(jwk))` is the RFC 7638 thumbprint input. For any other value —
 * another `kty`, a required member missing or not a string — undefined. It does not check
 * that the point is on the curve: importing the key does.
 */
export function publicJwkOf<K extends PublicJwk>(jwk: K): PublicMembersOf<K>;
export function publicJwkOf(jwk: object): PublicJwk | undefined;
export function publicJwkOf(jwk: object): PublicJwk | undefined {
  const { kty, crv, x, y } = jwk as { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown };
  if (typeof crv !== 'string' || typeof x !== 'string') return undefined;
  if (kty === 'EC') return typeof y === 'string' ? { crv, kty, x, y } : undefined;
  return kty === 'OKP' ? { crv, kty, x } : undefined;
}

/**
 * The Ed25519 points of small order (the curve's 8 torsion points, and the encodings of some
 * with y ≥ p), as `x` encodes them with the sign bit cleared — libsodium's blocklist. Under
 * such a key one signature (R the identity, S = 0) verifies every message, so a ticket bound
 * to it would be a bearer credential and a stamp key would sign for anyone.
 */
const SMALL_ORDER_ED25519 = new Set([
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]);

/** Is this an OKP Ed25519 key whose point has small order (see SMALL_ORDER_ED25519)? */
export function isSmallOrderEd25519(jwk: PublicJwk): boolean {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') return false;
  const bytes = decodeBase64url(jwk.x);
  return bytes !== undefined && isSmallOrderEd25519Encoding(bytes);
}

/** The same encodings as bytes, compared in place: the check runs on every EdDSA signature's R. */
const SMALL_ORDER_ED25519_BYTES: readonly Uint8Array[] = [...SMALL_ORDER_ED25519].map((hex) =>
  Uint8Array.from({ length: 32 }, (_, i) => Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)),
);

/** Are these 32 bytes an encoding of an Ed25519 point of small order (a key's, or a signature's R)? Either sign bit. */
export function isSmallOrderEd25519Encoding(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  next: for (const known of SMALL_ORDER_ED25519_BYTES) {
    for (let i = 0; i < 31; i++) if (bytes[i] !== known[i]) continue next;
    if ((bytes[31]! & 0x7f) === known[31]) return true;
  }
  return false;
}

/**
 * RFC 7517 §4.2–4.3: what is wrong with putting `jwk` to `operation` when its owner marked it
 * for something else (`use` other than `sig`, `key_ops` without the operation, or `key_ops`
 * that §4.3 does not allow: a value not a string, or one named twice); undefined when
 * nothing is. Fixed texts, nothing from the key. A key's numbers say nothing of its purpose,
 * so no import would notice.
 */
export function misusedKeyProblem(jwk: Readonly<Record<string, unknown>>, operation: 'sign' | 'verify'): string | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'use must be "sig" when present (this key is marked for something else)';
  const ops = jwk.key_ops;
  if (ops === undefined) return undefined;
  if (!Array.isArray(ops)) return `key_ops must include "${operation}" when present`;
  // §4.3: case-sensitive strings, none twice — what jose asks of a key in a fetched set too
  const seen = new Set<string>();
  for (let i = 0; i < ops.length; i++) {
    const op: unknown = ops[i]; // a hole is undefined: not a string
    if (typeof op !== 'string' || seen.has(op)) return 'key_ops must be an array of distinct strings';
    seen.add(op);
  }
  if (!ops.includes(operation)) return `key_ops must include "${operation}" when present`;
  return undefined;
}

/** Members only a private asymmetric key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). An `oct` key's `k` is not one: a verifier holds HMAC secrets. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

/** The first private member `jwk` has of its own, or undefined: a verifier needs the public half only. */
export function privateMemberOf(jwk: object): string | undefined {
  return PRIVATE_MEMBERS.find((member) => Object.hasOwn(jwk, member));
}
