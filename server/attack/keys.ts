import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { kidSchema, STAMP_ALGS, type StampAlg } from '../../shared/index.js';
import { jwkThumbprint } from './catalog/forge.js';
import type { PublicKeyForms, TicketAlg, TicketPublicJwk, TicketSigningKey } from './catalog/types.js';
import { AttackSetupError } from './results.js';

/** The harness's keys: the client key it is given, and the ones it makes (an attacker's, ticket keys). */

/** A client JWK as the harness needs it: to stamp, to sign anything, and to derive public forms. */
export interface AttackKey {
  readonly kid: string;
  readonly alg: StampAlg;
  /** The JWK as given (for the real client stamper). */
  readonly jwk: Readonly<Record<string, unknown>> & { kid: string; alg: string };
  readonly publicKey: PublicKeyForms | undefined;
  /** Signs `input` with the client key as `signAs` (default its alg), or HMAC with `secret`. */
  signInput(input: string, signAs?: string, secret?: Uint8Array | string): Buffer;
  /** A throwaway key of the same kind the target has never seen. */
  readonly attacker: { readonly publicJwk: Readonly<Record<string, unknown>>; signInput(input: string): Buffer };
}

function hashOf(alg: string): string {
  return `sha${alg.slice(2)}`;
}

function signAsymmetric(alg: string, key: KeyObject, input: string): Buffer {
  return alg.startsWith('ES') ? sign(hashOf(alg), Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign(null, Buffer.from(input), key);
}

function publicForms(key: KeyObject, kid: string, alg: string): PublicKeyForms {
  const publicKey = createPublicKey(key);
  const { d: _private, ...jwk } = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const der = publicKey.export({ format: 'der', type: 'spki' });
  // the raw key is the tail of the SPKI: 65/97 bytes of uncompressed point, or 32 for Ed25519
  const rawLength = jwk.kty === 'OKP' ? 32 : jwk.crv === 'P-384' ? 97 : 65;
  return {
    jwkJson: JSON.stringify({ ...jwk, kid, alg }),
    pem: String(publicKey.export({ format: 'pem', type: 'spki' })),
    raw: new Uint8Array(der.subarray(der.length - rawLength)),
  };
}

function makeAttacker(alg: StampAlg): AttackKey['attacker'] {
  if (alg.startsWith('HS')) {
    const secret = randomBytes(32);
    return {
      publicJwk: { kty: 'oct', k: secret.toString('base64url') },
      signInput: (input) => createHmac(hashOf(alg), secret).update(input).digest(),
    };
  }
  const { privateKey, publicKey } =
    alg === 'ES256' || alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' }) : generateKeyPairSync('ed25519');
  return {
    publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    signInput: (input) => signAsymmetric(alg, privateKey, input),
  };
}

/** Checks and imports a client JWK once; anything unusable is `key-unusable` (exit 2). */
export function loadAttackKey(input: unknown): AttackKey {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new AttackSetupError('key-unusable');
  const jwk = input as Record<string, unknown>;
  const { kid, alg } = jwk;
  if (!kidSchema.safeParse(kid).success) throw new AttackSetupError('key-unusable', 'kid missing or not [A-Za-z0-9._:-]{1,128}');
  if (!(STAMP_ALGS as readonly unknown[]).includes(alg)) throw new AttackSetupError('key-unusable', `alg must be one of ${STAMP_ALGS.join(', ')}`);
  const stampAlg = alg as StampAlg;
  let secret: Buffer | undefined;
  let privateKey: KeyObject | undefined;
  if (stampAlg.startsWith('HS')) {
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string' || !/^[A-Za-z0-9_-]+$/.test(jwk.k)) {
      throw new AttackSetupError('key-unusable', `${stampAlg} needs an oct JWK with "k"`);
    }
    secret = Buffer.from(jwk.k, 'base64url');
  } else {
    if (typeof jwk.d !== 'string') throw new AttackSetupError('key-unusable', 'it has no private part "d"');
    try {
      privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (error) {
      throw new AttackSetupError('key-unusable', 'not a valid EC or OKP private JWK', { cause: error });
    }
    const type = privateKey.asymmetricKeyType;
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    const fits =
      stampAlg === 'ES256' ? type === 'ec' && curve === 'prime256v1' : stampAlg === 'ES384' ? type === 'ec' && curve === 'secp384r1' : type === 'ed25519';
    if (!fits) throw new AttackSetupError('key-unusable', `the key does not fit alg ${stampAlg}`);
  }
  const key = privateKey;
  return {
    kid: kid as string,
    alg: stampAlg,
    jwk: jwk as AttackKey['jwk'],
    publicKey: key === undefined ? undefined : publicForms(key, kid as string, stampAlg),
    signInput(signingInput, signAs = stampAlg, hmacSecret) {
      if (signAs === 'none' || signAs.toLowerCase() === 'none') return Buffer.alloc(0);
      if (signAs.startsWith('HS')) {
        const with_ = hmacSecret ?? secret;
        if (with_ === undefined) throw new TypeError(`${signAs} needs a secret for an asymmetric key`);
        return createHmac(hashOf(signAs), with_).update(signingInput).digest();
      }
      if (key === undefined) throw new TypeError(`an HMAC key cannot sign as ${signAs}`);
      return signAsymmetric(signAs, key, signingInput);
    },
    attacker: makeAttacker(stampAlg),
  };
}

function publicMembers(key: KeyObject): TicketPublicJwk {
  const { kty, crv, x, y } = createPublicKey(key).export({ format: 'jwk' });
  return (kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x }) as TicketPublicJwk;
}

/** A fresh ticket key: tickets need no registration, so the harness asks for none. */
export function generateTicketKey(alg: TicketAlg): TicketSigningKey {
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const publicJwk = publicMembers(privateKey);
  const kid = jwkThumbprint(publicJwk);
  return {
    alg,
    kid,
    publicJwk,
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg },
    signInput: (input) => signAsymmetric(alg, privateKey, input),
  };
}
