import { createPrivateKey, createPublicKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { kidSchema } from '../../shared/schema.js';
import { TICKET_ALGS, type TicketAlg } from '../../shared/ticket-schema.js';
import type { JwkSet } from '../verify/key-source.js';

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
