import { createHash } from 'node:crypto';

/**
 * What the harness makes by hand, as an attacker would: compact JWS text, its re-encodings,
 * thumbprints and ticket hashes, addresses that are not ours. No JOSE library in between to
 * tidy up what an attack means to break.
 */

/**
 * The wire values of PROTOCOL.md §7 the ticket attacks speak. `ipstamp` (shared) does not
 * export them; the harness writes them down from the spec, and test/attack checks they equal
 * the library's.
 */
export const TICKET_WIRE = {
  ticketTyp: 'ipstamp-ticket+jwt',
  requestTyp: 'ipstamp-ticket-req+jwt',
  ticketPath: '/.well-known/ipstamp/ticket',
  issuerJwksPath: '/.well-known/ipstamp/issuer-jwks',
  maxTicketBytes: 2048,
} as const;

/** One segment of a compact JWS; a string is taken as the exact JSON text, so duplicate members survive. */
export function segment(part: Readonly<Record<string, unknown>> | string): string {
  return Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
}

/** The JSON of one segment of a compact JWS, or an empty object when it is not one. */
export function decodeSegment(token: string, index: 0 | 1): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `header.payload.signature`, the signature made by `signInput` over the first two segments. */
export function signCompact(
  header: Readonly<Record<string, unknown>> | string,
  payload: Readonly<Record<string, unknown>> | string,
  signInput: (input: string) => Uint8Array,
): string {
  const input = `${segment(header)}.${segment(payload)}`;
  return `${input}.${Buffer.from(signInput(input)).toString('base64url')}`;
}

/** base64url SHA-256 of a ticket's text: what a stamp's `tth` must be (PROTOCOL.md §7.3). */
export function ticketHash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}

/** RFC 7638 thumbprint (SHA-256) of an EC P-256 or Ed25519 public JWK: the kid a ticket-bound stamp names. */
export function jwkThumbprint(jwk: { readonly kty: string; readonly crv: string; readonly x: string; readonly y?: string }): string {
  // the required members only, in lexicographic order
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** Documentation-range addresses (RFC 5737, RFC 3849): never the harness's own. */
export function spoofedAddressFor(ip: string): string {
  if (ip.includes(':')) return ip === '2001:db8::9' ? '2001:db8::23' : '2001:db8::9';
  return ip === '203.0.113.9' ? '198.51.100.23' : '203.0.113.9';
}

/*
 * Re-encodings of a signed stamp that keep it valid for a careless verifier: a replay cache
 * keyed on the token text, or a signature check that takes any encoding, lets them through.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Group orders (SEC 2; RFC 8032 §5.1 for L). */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P384_N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
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
  return `${header}.${segment(payload)}.${signature}`;
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
