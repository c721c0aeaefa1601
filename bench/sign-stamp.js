/** Signs bench stamps with node:crypto directly (fast enough to make 100 k before a window). */
import { createHmac, createPrivateKey, sign } from 'node:crypto';

/** A signer for one JWK: `(claims) => compact JWS` with header { alg, typ: ipstamp+jwt, kid }. */
export function stampSigner(jwk, kid = jwk.kid) {
  const { alg } = jwk;
  const header = Buffer.from(JSON.stringify({ alg, typ: 'ipstamp+jwt', kid })).toString('base64url');
  const key = alg === 'HS256' ? Buffer.from(jwk.k, 'base64url') : createPrivateKey({ key: jwk, format: 'jwk' });
  return (claims) => {
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const sig =
      alg === 'HS256'
        ? createHmac('sha256', key).update(input).digest()
        : alg === 'ES256'
          ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
          : sign(null, Buffer.from(input), key);
    return `${input}.${sig.toString('base64url')}`;
  };
}
