import { createHmac, createPrivateKey, sign, type JsonWebKey } from 'node:crypto';

/**
 * Signs any header and payload text, however hostile — duplicate members, alg none, crit —
 * with a real key, so tests reach the check they mean to reach. jose refuses to make such tokens.
 */
export function signRaw(
  privateJwk: Record<string, unknown>,
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string | Uint8Array,
  signAs: string = String(privateJwk.alg),
): string {
  const seg = (part: Record<string, unknown> | string | Uint8Array) =>
    Buffer.from(typeof part === 'string' || part instanceof Uint8Array ? part : JSON.stringify(part)).toString('base64url');
  const input = `${seg(header)}.${seg(payload)}`;
  let signature: Buffer;
  if (signAs.startsWith('HS')) {
    signature = createHmac(`sha${signAs.slice(2)}`, Buffer.from(String(privateJwk.k), 'base64url'))
      .update(input)
      .digest();
  } else if (signAs === 'none') {
    signature = Buffer.alloc(0);
  } else {
    const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
    signature = signAs.startsWith('ES')
      ? sign(`sha${signAs.slice(2)}`, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign(null, Buffer.from(input), key);
  }
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * The two headers of a request with a ticket of `iss` signed by `issuerJwk` (an EdDSA private
 * JWK with its kid) for `clientJwk` (an ES256 private JWK), and a stamp it signed for `htu`.
 * The stamp's kid is not the key's thumbprint: enough to reach the issuer's key lookup, which
 * comes first (PROTOCOL §7.4), not to pass.
 */
export function rawTicketHeaders(issuerJwk: Record<string, unknown>, clientJwk: Record<string, unknown>, iss: string, htu: string): Record<string, string> {
  const now = Math.floor(Date.now() / 1000);
  const { kty, crv, x, y } = clientJwk;
  const ticket = signRaw(
    issuerJwk,
    { alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: issuerJwk.kid },
    { iss, ip: '127.0.0.1', iat: now, exp: now + 300, jti: Buffer.alloc(16, 1).toString('base64url'), cnf: { jwk: { kty, crv, x, y } } },
  );
  const stamp = signRaw(
    clientJwk,
    { alg: 'ES256', typ: 'ipstamp+jwt', kid: 'not-the-thumbprint' },
    { ip: '127.0.0.1', iat: now, jti: Buffer.alloc(16, 2).toString('base64url'), htm: 'GET', htu },
  );
  return { 'client-ip-ticket': ticket, 'client-ip-attestation': stamp };
}
