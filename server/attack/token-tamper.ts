/**
 * Re-encodings of a signed stamp that keep it valid for a careless verifier: a replay cache
 * keyed on the token text, or a signature check that takes any encoding, lets them through.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Group orders (SEC 2; RFC 8032 §5.1 for L). */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P384_N =
  0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;

function segments(token: string): [string, string, string] {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TypeError('token must be a JWS compact serialization');
  return parts as [string, string, string];
}

function toBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBigInt(n: bigint, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The same header and signature over another payload: what a verifier that skips the signature accepts. */
function withPayload(token: string, payload: Readonly<Record<string, unknown>> | string): string {
  const [header, , signature] = segments(token);
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return `${header}.${Buffer.from(text).toString('base64url')}.${signature}`;
}

/** The decoded payload of a token, as an object. */
function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segments(token)[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * ECDSA is malleable: (r, s) and (r, n − s) both verify. Returns that twin for an ES256/ES384
 * stamp (IEEE P1363 `r || s`), undefined for other algorithms.
 */
function ecdsaTwin(token: string, alg: string): string | undefined {
  const order = alg === 'ES256' ? P256_N : alg === 'ES384' ? P384_N : undefined;
  if (order === undefined) return undefined;
  const [header, payload, signature] = segments(token);
  const sig = Buffer.from(signature, 'base64url');
  const half = sig.length / 2;
  const s = toBigInt(sig.subarray(half));
  const twin = Buffer.concat([sig.subarray(0, half), fromBigInt(order - s, half)]);
  return `${header}.${payload}.${twin.toString('base64url')}`;
}

/**
 * An Ed25519 signature with S + L in place of S: the same point equation holds, and RFC 8032
 * §5.1.7 requires rejecting S ≥ L exactly because of this. Undefined for other algorithms.
 */
function ed25519Twin(token: string, alg: string): string | undefined {
  if (alg !== 'EdDSA' && alg !== 'Ed25519') return undefined;
  const [header, payload, signature] = segments(token);
  const sig = Buffer.from(signature, 'base64url');
  // S is little-endian in the second half
  const s = toBigInt(Buffer.from(sig.subarray(32)).reverse());
  const twin = Buffer.concat([sig.subarray(0, 32), fromBigInt(s + ED25519_L, 32).reverse()]);
  return `${header}.${payload}.${twin.toString('base64url')}`;
}

/**
 * Flips the unused low bits of the signature segment's last character: the decoded bytes stay
 * the same, the text differs. Undefined when the signature length leaves no unused bits.
 */
function flipUnusedBits(token: string): string | undefined {
  const [header, payload, signature] = segments(token);
  const unused = (signature.length * 6) % 8;
  if (unused === 0 || signature.length === 0) return undefined;
  const index = ALPHABET.indexOf(signature[signature.length - 1]!);
  const flipped = ALPHABET[index ^ ((1 << unused) - 1)]!;
  return `${header}.${payload}.${signature.slice(0, -1)}${flipped}`;
}

export interface TokenTamper {
  withPayload: typeof withPayload;
  payloadOf: typeof payloadOf;
  ecdsaTwin: typeof ecdsaTwin;
  ed25519Twin: typeof ed25519Twin;
  flipUnusedBits: typeof flipUnusedBits;
}

export const tokenTamper: TokenTamper = { withPayload, payloadOf, ecdsaTwin, ed25519Twin, flipUnusedBits };
