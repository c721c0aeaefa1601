import type { KeyObject } from 'node:crypto';
import { publicJwkOf } from '../../shared/public-jwk.js';
import { clientPublicJwkSchema, type ClientPublicJwk } from '../../shared/ticket-schema.js';
import type { StampAlg } from '../../shared/schema.js';
import { algsOfClientKey, importClientKey, jwkThumbprint } from '../jws/public-jwk.js';

/** A registered public key, checked and imported: what `lookup` hands the verifier. */
export interface RegistryKey {
  readonly kid: string;
  readonly alg: StampAlg;
  readonly keyObject: KeyObject;
  /** The RFC 7638 members only: nothing of what the caller sent beyond them is kept. */
  readonly publicJwk: Readonly<ClientPublicJwk>;
}

function refuse(what: string): never {
  // fixed texts: the JWK usually comes straight from an HTTP body and is never echoed
  throw new TypeError(`jwk: ${what}`);
}

/**
 * Checks a JWK a client asks to register: a public EC P-256 or OKP Ed25519 key (no private
 * member, no `oct`), its `kid` — when given — equal to its RFC 7638 thumbprint, its `alg` —
 * when given — one its curve signs with. Anything else is a TypeError.
 */
export function parseRegistryKey(input: unknown): RegistryKey {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) refuse('must be a JWK object');
  const jwk = input as Record<string, unknown>;
  if (Object.hasOwn(jwk, 'd') || Object.hasOwn(jwk, 'k') || jwk.kty === 'oct') refuse('must be a public key (private and oct keys are refused)');
  const parsed = clientPublicJwkSchema.safeParse(jwk);
  if (!parsed.success) refuse('must be a public EC P-256 or OKP Ed25519 key');
  const members: ClientPublicJwk = publicJwkOf(parsed.data);
  if (jwk.use !== undefined && jwk.use !== 'sig') refuse('use must be "sig" when present');
  const kid = jwkThumbprint(members);
  if (jwk.kid !== undefined && jwk.kid !== kid) refuse('kid must be the RFC 7638 SHA-256 thumbprint of the key (or absent)');
  const algs = algsOfClientKey(members);
  const alg = jwk.alg === undefined ? algs[0]! : (algs.find((a) => a === jwk.alg) ?? refuse('alg does not fit the key'));
  const keyObject = importClientKey(members) ?? refuse('is not a valid point on its curve');
  return { kid, alg, keyObject, publicJwk: Object.freeze(members) };
}
