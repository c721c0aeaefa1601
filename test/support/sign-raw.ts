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
