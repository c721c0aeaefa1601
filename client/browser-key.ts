import { calculateJwkThumbprint, type JWK } from 'jose';
import { rejectUnknownOptions, type OptionNames } from '../shared/options.js';
import { publicJwkOf } from '../shared/public-jwk.js';
import type { ClientPublicJwk, TicketAlg } from '../shared/ticket-schema.js';

/** The algs a generated key may use: the asymmetric ones tickets accept too (PROTOCOL.md §7.1). */
export type StampKeyAlg = TicketAlg;
export const STAMP_KEY_ALGS: readonly StampKeyAlg[] = ['ES256', 'EdDSA'];

/** The public half as a verifier or a key registry takes it: the RFC 7638 members plus `kid` and `alg`. */
export type StampPublicJwk = ClientPublicJwk & { kid: string; alg: StampKeyAlg };

/**
 * A key pair made in this runtime. The private key cannot be exported — not even by script on
 * the page — so an XSS can sign with it while the page is open, but cannot carry it away.
 * The object is at once a `StampKeyInput` (`key`, `kid`, `alg`) for `createStampedFetch` and
 * `createStamper`, and a `TicketKey` (`privateKey`, `publicJwk`, `alg`).
 */
export interface StampKey {
  /** RFC 7638 SHA-256 thumbprint of `publicJwk`: the `kid` a key registry and tickets expect. */
  readonly kid: string;
  readonly alg: StampKeyAlg;
  /** The non-extractable private key. */
  readonly privateKey: CryptoKey;
  /** The same CryptoKey as `privateKey`, under the name `StampKeyInput` reads. */
  readonly key: CryptoKey;
  /** Send this to the server (`registerKey`); it holds nothing secret. */
  readonly publicJwk: StampPublicJwk;
}

export interface GenerateStampKeyOptions {
  /** `ES256` (default: every current browser) or `EdDSA` (Ed25519: Chrome 137+, Firefox 129+, Safari 17+). */
  alg?: StampKeyAlg;
}

const GENERATE_STAMP_KEY_OPTION_NAMES: OptionNames<GenerateStampKeyOptions> = Object.freeze({ alg: true });

const GENERATE_PARAMS: Readonly<Record<StampKeyAlg, EcKeyGenParams | Algorithm>> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
};

export function subtleCrypto(): SubtleCrypto {
  const subtle = globalThis.crypto?.subtle;
  // Browsers hide crypto.subtle outside secure contexts (plain http other than localhost).
  if (subtle === undefined) throw new TypeError('WebCrypto (crypto.subtle) is unavailable: serve the page over https or from localhost');
  return subtle;
}

/** Only the members RFC 7638 hashes: `ext`, `key_ops` and the like say nothing about the key. */
export function publicMembers(jwk: JsonWebKey): ClientPublicJwk | undefined {
  const members = publicJwkOf(jwk);
  if (members === undefined || members.crv !== (members.kty === 'EC' ? 'P-256' : 'Ed25519')) return undefined;
  return members as ClientPublicJwk;
}

/** The alg a key of this public JWK signs with. */
export function algOfPublicJwk(jwk: ClientPublicJwk): StampKeyAlg {
  return jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
}

/** The RFC 7638 thumbprint, the `kid` a registry derives for the same key. */
export function stampKeyId(jwk: ClientPublicJwk): Promise<string> {
  return calculateJwkThumbprint(jwk as JWK, 'sha256');
}

/** Puts a pair together as a StampKey; the public JWK must be the private key's own. */
export async function assembleStampKey(privateKey: CryptoKey, publicJwk: ClientPublicJwk): Promise<StampKey> {
  const alg = algOfPublicJwk(publicJwk);
  const kid = await stampKeyId(publicJwk);
  return Object.freeze({ kid, alg, privateKey, key: privateKey, publicJwk: Object.freeze({ ...publicJwk, kid, alg }) });
}

/**
 * Generates a signing key with WebCrypto: the private key non-extractable, the public key
 * exported as a JWK whose thumbprint is the `kid`. Keep it across page loads with
 * `saveStampKey`; register `publicJwk` with the server (`createKeyRegistry().registerKey`).
 */
export async function generateStampKey(options: GenerateStampKeyOptions = {}): Promise<StampKey> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  rejectUnknownOptions(options, GENERATE_STAMP_KEY_OPTION_NAMES);
  const alg = options.alg ?? 'ES256';
  if (!STAMP_KEY_ALGS.includes(alg)) throw new TypeError(`alg must be one of ${STAMP_KEY_ALGS.join(', ')}`);
  const subtle = subtleCrypto();
  // extractable: false applies to the private key; WebCrypto keeps public keys exportable.
  const pair = (await subtle.generateKey(GENERATE_PARAMS[alg], false, ['sign', 'verify'])) as CryptoKeyPair;
  const publicJwk = publicMembers(await subtle.exportKey('jwk', pair.publicKey));
  if (publicJwk === undefined) throw new TypeError('WebCrypto returned a public key of an unexpected type');
  return assembleStampKey(pair.privateKey, publicJwk);
}
