import type { StampAlg } from '../../shared/constants.js';
import type { PublicJwk } from '../../shared/public-jwk.js';

/** The algs a client key may sign with: its curve decides, so a token cannot pick another. */
export function algsOfClientKey(jwk: Pick<PublicJwk, 'kty'>): readonly StampAlg[] {
  return jwk.kty === 'EC' ? ['ES256'] : ['EdDSA', 'Ed25519'];
}
