import { exportJWK, generateKeyPair, generateSecret, type JWK } from 'jose';
import type { StampAlg } from '../../shared/schema.js';

export interface TestKeyPair {
  alg: StampAlg;
  kid: string;
  /** What the client signs with. */
  privateJwk: JWK & { kid: string; alg: string };
  /** What the verifier's JWK Set holds (the secret itself for HMAC). */
  publicJwk: JWK & { kid: string; alg: string };
}

/** A fresh key of each kind, exported as JWKs the way users keep them in files. */
export async function makeKey(alg: StampAlg, kid = `test-${alg.toLowerCase()}`): Promise<TestKeyPair> {
  if (alg.startsWith('HS')) {
    const secret = await generateSecret(alg, { extractable: true });
    const jwk = { ...(await exportJWK(secret)), kid, alg };
    return { alg, kid, privateJwk: jwk, publicJwk: jwk };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg === 'Ed25519' ? 'EdDSA' : alg, {
    extractable: true,
    crv: alg === 'EdDSA' || alg === 'Ed25519' ? 'Ed25519' : undefined,
  });
  return {
    alg,
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg },
  };
}
