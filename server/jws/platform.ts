import type { StampAlg } from '../../shared/constants.js';
import type { PublicJwk } from '../../shared/public-jwk.js';
import type { CompactCodec } from './compact-codec.js';

/**
 * What the verifier needs from its platform's cryptography and bytes — the seam between the
 * one verify pipeline and node:crypto (node-crypto.ts: KeyObjects, sync, the fast path) or
 * WebCrypto (web-crypto.ts: crypto.subtle, async). `Key` is the platform's imported key.
 *
 * A method may answer synchronously or with a promise; the pipeline awaits only a promise, so
 * Node's sync answers never pay for a trip through the microtask queue.
 */
export interface CryptoPlatform<Key = unknown> {
  readonly name: 'node' | 'web';
  readonly codec: CompactCodec;
  /**
   * One configured key — a JWK, or `{ key }` holding the platform's key type — checked against
   * its pinned `alg` and imported, at load time. Throws TypeError `${where}: …` for anything
   * that cannot be used (WebCrypto imports asynchronously: see web-crypto.ts for what it can
   * only find out on first use).
   */
  importKey(input: Readonly<Record<string, unknown>>, alg: StampAlg, where: string): Key;
  /** A client's public key (a ticket's `cnf.jwk`); undefined when it is not a point on its curve. */
  importClientKey(jwk: PublicJwk): Key | undefined | Promise<Key | undefined>;
  /** The JWS signature check of `alg` (RFC 7518 §3): r‖s for ECDSA; false for anything wrong. */
  verifySignature(alg: StampAlg, key: Key, signingInput: string, signature: Uint8Array): boolean | Promise<boolean>;
  /** base64url (no padding) of SHA-256 over the UTF-8 of text, or over bytes. */
  sha256(data: string | Uint8Array): string | Promise<string>;
}

export { MIN_HMAC_SECRET_BYTES } from '../../shared/constants.js';

/** The curve each asymmetric alg pins (RFC 7518 §3.4, RFC 8037). */
/** The WebCrypto hash each alg signs over; an HMAC CryptoKey is bound to its hash at import. */
export const WEBCRYPTO_HASH_OF: Partial<Record<StampAlg, string>> = {
  HS256: 'SHA-256',
  HS384: 'SHA-384',
  HS512: 'SHA-512',
  ES256: 'SHA-256',
  ES384: 'SHA-384',
};
export const CURVE_OF_ALG: Partial<Record<StampAlg, string>> = { ES256: 'P-256', ES384: 'P-384', EdDSA: 'Ed25519', Ed25519: 'Ed25519' };

export function isHmacAlg(alg: StampAlg): boolean {
  return alg === 'HS256' || alg === 'HS384' || alg === 'HS512';
}

export function keyFailure(where: string, what: string): never {
  throw new TypeError(`${where}: ${what}`);
}
