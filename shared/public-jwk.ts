/**
 * The public members of an EC or OKP JWK — the ones RFC 7638 §3.2 hashes, in its
 * lexicographic order — and nothing else: no private `d`, no `kid`, `alg`, `use`, `ext` or
 * `key_ops`. What a ticket's `cnf.jwk` and a proof header carry, what a thumbprint hashes,
 * what a key import needs. The one place that picks them (zod-free: browsers load it too).
 */

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
