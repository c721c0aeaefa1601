import { createHash, createHmac, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { createWebVerifier } from '../../server/web/index.js';
import { probeSignature, type ProbeAnswer, type SignatureProbe } from './signature-probe.js';
import type { ConformanceVector, VectorFile } from './vector-format.js';
import { answerOf, outcomeOf, runWebVector, verifierOptionsOf, verifyInputOf, type VectorAnswer } from './vector-run.js';

/**
 * Signatures and keys where crypto libraries are known to differ — and where a verifier's
 * security lives — as conformance vectors, built here with node:crypto from the accepted
 * vectors `stamp-00-valid-*` (same request, same claims; only the signature or the key
 * changes). Every platform must give each the same answer: the verdict may not depend on the
 * runtime. `want` is what docs/protocol.md §2.3–§2.4 and §5 step 5 require; where they are
 * silent (a high-S ECDSA signature) it is what every platform was found to do, noted as such.
 */

/** `accepted`, a reason, or `load-error` (the verifier refused its keys when created). */
export type EdgeAnswer = 'accepted' | 'bad-signature' | 'bad-ticket' | 'unknown-key' | 'load-error';

export interface EdgeCase {
  vector: ConformanceVector;
  keys: { keys: Record<string, unknown>[] };
  what: string;
  /** node: createVerifierCore (node:crypto); web: createWebVerifier (WebCrypto) on every runtime, Node included. */
  want: { node: EdgeAnswer; web: EdgeAnswer };
  /** The same key and signature, put to the runtime's WebCrypto directly. */
  probe: SignatureProbe;
}

const conformance = import.meta.dirname;
const stamps = JSON.parse(readFileSync(resolve(conformance, 'vectors/stamps.json'), 'utf8')) as VectorFile;
const tickets = JSON.parse(readFileSync(resolve(conformance, 'vectors/tickets.json'), 'utf8')) as VectorFile;
const KEYS = JSON.parse(readFileSync(resolve(conformance, 'keys.json'), 'utf8')) as Record<string, Record<string, unknown>>;

const N_P256 = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const N_P384 = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
/** Ed25519: the group order L and the field prime p. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const bigOfBE = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const beOf = (n: bigint, size: number): Buffer => Buffer.from(n.toString(16).padStart(size * 2, '0'), 'hex');
const leOf = (n: bigint, size: number): Buffer => beOf(n, size).reverse();
const bigOfLE = (bytes: Uint8Array): bigint => bigOfBE(Uint8Array.from(bytes).reverse());

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = ((base % modulus) + modulus) % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** Is y the y-coordinate of an Ed25519 point? (x² = (y² − 1) / (d·y² + 1) has a root: Euler's criterion.) */
function isEd25519Y(y: bigint): boolean {
  const d = (((-121665n * modPow(121666n, P - 2n, P)) % P) + P) % P;
  const u = (y * y - 1n) % P;
  const v = (d * y * y + 1n) % P;
  return u === 0n || modPow(u * modPow(v, P - 2n, P), (P - 1n) / 2n, P) === 1n;
}

/**
 * The least y (2 ≤ y < 19) that is the y of an Ed25519 point, spelled y + p: a second,
 * non-canonical encoding of that point (< 2^255; RFC 8032 §5.1.3 step 1 says decoding fails).
 */
function nonCanonicalEd25519Point(): Buffer {
  for (let y = 2n; y < 19n; y++) if (isEd25519Y(y)) return leOf(y + P, 32);
  throw new Error('no y < 19 on the curve');
}

/** The least y ≥ 2 with no point on the curve. */
function notAPoint(): Buffer {
  for (let y = 2n; ; y++) if (!isEd25519Y(y)) return leOf(y, 32);
}

function baseOf(id: string): { vector: ConformanceVector; signingInput: string; signature: Buffer } {
  const vector = stamps.vectors.find((v) => v.id === id);
  if (vector === undefined || !vector.expect.ok) throw new Error(`${id}: not an accepted vector of stamps.json`);
  const token = vector.request.headers['client-ip-attestation'] as string;
  const dot = token.lastIndexOf('.');
  return { vector, signingInput: token.slice(0, dot), signature: Buffer.from(token.slice(dot + 1), 'base64url') };
}

const publicOf = ({ d: _d, ...jwk }: Record<string, unknown>): Record<string, unknown> => jwk;

type Alg = SignatureProbe['alg'];

function edgeCase(
  baseId: string,
  alg: Alg,
  id: string,
  what: string,
  signature: Uint8Array,
  key: Record<string, unknown>,
  want: EdgeAnswer | EdgeCase['want'],
): EdgeCase {
  const base = baseOf(baseId);
  const vector = structuredClone(base.vector);
  vector.id = `edge-${id}`;
  vector.description = what;
  vector.request.headers['client-ip-attestation'] = `${base.signingInput}.${b64url(signature)}`;
  if (typeof want === 'string' && want !== 'accepted') vector.expect = { ok: false, reason: want, status: 401 };
  const keys = { keys: [key] };
  return {
    vector,
    keys,
    what,
    want: typeof want === 'string' ? { node: want, web: want } : want,
    probe: { id: vector.id, alg, jwk: key, data: base.signingInput, signature: b64url(signature) },
  };
}

function ecdsaCases(alg: 'ES256' | 'ES384'): EdgeCase[] {
  const [baseId, kid, size, n, hash] =
    alg === 'ES256' ? (['stamp-00-valid-es256', 'es-1', 32, N_P256, 'sha256'] as const) : (['stamp-00-valid-es384', 'es384-1', 48, N_P384, 'sha384'] as const);
  const { signingInput, signature } = baseOf(baseId);
  const privateKey = KEYS[kid]!;
  const key = publicOf(privateKey);
  const r = bigOfBE(signature.subarray(0, size));
  const s = bigOfBE(signature.subarray(size));
  const rs = (rr: bigint, ss: bigint) => Buffer.concat([beOf(rr, size), beOf(ss, size)]);
  const max = 2n ** BigInt(size * 8) - 1n;
  const high = s > n / 2n ? s : n - s;
  const der = sign(hash, Buffer.from(signingInput), { key: createPrivateKey({ key: privateKey, format: 'jwk' }), dsaEncoding: 'der' });
  const a = alg.toLowerCase();
  return [
    // valid ECDSA either way (FIPS 186-5, RFC 7518 §3.4 set no low-S rule): §2.4 is silent, every platform accepts
    edgeCase(baseId, alg, `${a}-high-s`, `${alg} with s' = max(s, n − s): a high-S signature`, rs(r, high), key, 'accepted'),
    edgeCase(baseId, alg, `${a}-low-s`, `${alg} with s' = min(s, n − s): its low-S twin`, rs(r, n - high), key, 'accepted'),
    edgeCase(baseId, alg, `${a}-r-zero`, `${alg} with r = 0`, rs(0n, s), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-s-zero`, `${alg} with s = 0`, rs(r, 0n), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-r-n`, `${alg} with r = n`, rs(n, s), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-s-n`, `${alg} with s = n`, rs(r, n), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-r-max`, `${alg} with r = 2^${size * 8} − 1 (≥ n)`, rs(max, s), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-s-max`, `${alg} with s = 2^${size * 8} − 1 (≥ n)`, rs(r, max), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-all-zero`, `${alg}: ${size * 2} zero bytes`, Buffer.alloc(size * 2), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-der`, `${alg}: a valid signature DER-encoded (${der.length} bytes) in place of r‖s`, der, key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-one-byte-short`, `${alg}: r‖s without its last byte`, signature.subarray(0, -1), key, 'bad-signature'),
    edgeCase(baseId, alg, `${a}-one-byte-long`, `${alg}: r‖s and a zero byte`, Buffer.concat([signature, Buffer.alloc(1)]), key, 'bad-signature'),
    // node:crypto refuses a point off the curve at load; WebCrypto's import is asynchronous, so
    // the web verifier finds out on first use and refuses every signature (web-crypto.ts)
    edgeCase(
      baseId,
      alg,
      `${a}-key-off-curve`,
      `${alg}: the key's y + 1 (off the curve), the original signature`,
      signature,
      { ...key, y: b64url(beOf((bigOfBE(Buffer.from(key.y as string, 'base64url')) + 1n) % 2n ** BigInt(size * 8), size)) },
      { node: 'load-error', web: 'bad-signature' },
    ),
    edgeCase(baseId, alg, `${a}-key-x-padded`, `${alg}: the key's x with base64 padding`, signature, { ...key, x: `${key.x as string}=` }, 'load-error'),
  ];
}

/**
 * An Ed25519 signature whose R is the identity point, spelled `rBytes` (canonically y = 1, or
 * y = p + 1): S = k·a mod L with k = SHA-512(R ‖ A ‖ M), so [S]B = R + [k]A holds — what the
 * key's holder can make for any message. RFC 8032 §5.1.7 accepts it with the canonical R and
 * refuses the non-canonical spelling (decoding R fails, §5.1.3).
 */
function identityRSignature(seed: Buffer, publicKey: Buffer, message: string, rBytes: Buffer): Buffer {
  const h = createHash('sha512').update(seed).digest();
  const scalar = Buffer.from(h.subarray(0, 32));
  scalar[0]! &= 248;
  scalar[31]! &= 127;
  scalar[31]! |= 64;
  const k =
    bigOfLE(
      createHash('sha512')
        .update(Buffer.concat([rBytes, publicKey, Buffer.from(message)]))
        .digest(),
    ) % L;
  return Buffer.concat([rBytes, leOf((k * bigOfLE(scalar)) % L, 32)]);
}

/** The clamped secret scalar of an Ed25519 seed and its nonce prefix (RFC 8032 §5.1.5). */
function expandSeed(seed: Buffer): { a: bigint; prefix: Buffer } {
  const h = createHash('sha512').update(seed).digest();
  const scalar = Buffer.from(h.subarray(0, 32));
  scalar[0]! &= 248;
  scalar[31]! &= 127;
  scalar[31]! |= 64;
  return { a: bigOfLE(scalar), prefix: Buffer.from(h.subarray(32)) };
}

/** A + T with T = (0, −1), the point of order 2: (x, y) + (0, −1) = (−x, −y), so y' = p − y and the sign of x flips. */
function plusOrderTwo(publicKey: Buffer): Buffer {
  const y = bigOfLE(publicKey) & (2n ** 255n - 1n);
  const out = leOf((P - y) % P, 32);
  out[31]! |= ((publicKey[31]! >> 7) ^ 1) << 7;
  return out;
}

/**
 * A signature of `message` under the mixed-order key A' = A + T (T of order 2) by A's holder:
 * a nonce r (with R = rB taken from a node:crypto signature of another message, r recomputed
 * from the seed) for which k = SHA-512(R ‖ A' ‖ M) mod L is even, so [k]T vanishes and
 * S = r + k·a satisfies [S]B = R + [k]A' — cofactorless RFC 8032 verification accepts it.
 */
function mixedOrderSignature(privateJwk: Record<string, unknown>, mixedKey: Buffer, message: string): Buffer {
  const seed = Buffer.from(privateJwk.d as string, 'base64url');
  const { a, prefix } = expandSeed(seed);
  const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
  for (let i = 0; i < 64; i++) {
    const other = Buffer.from(`nonce ${i}`);
    const R = sign(null, other, privateKey).subarray(0, 32);
    const r =
      bigOfLE(
        createHash('sha512')
          .update(Buffer.concat([prefix, other]))
          .digest(),
      ) % L;
    const k =
      bigOfLE(
        createHash('sha512')
          .update(Buffer.concat([R, mixedKey, Buffer.from(message)]))
          .digest(),
      ) % L;
    if (k % 2n === 0n) return Buffer.concat([R, leOf((r + k * a) % L, 32)]);
  }
  throw new Error('no even k in 64 tries');
}

function eddsaCases(): EdgeCase[] {
  const baseId = 'stamp-00-valid-eddsa';
  const { signingInput, signature } = baseOf(baseId);
  const key = publicOf(KEYS['ed-1']!);
  const seed = Buffer.from(KEYS['ed-1']!.d as string, 'base64url');
  const publicKey = Buffer.from(key.x as string, 'base64url');
  const S = bigOfLE(signature.subarray(32));
  const withS = (s: bigint) => Buffer.concat([signature.subarray(0, 32), leOf(s, 32)]);
  const identity = leOf(1n, 32);
  // under the identity point, R = identity and S = 0 verify every message with a library that lets them
  const identitySignature = Buffer.concat([identity, Buffer.alloc(32)]);
  return [
    edgeCase(baseId, 'EdDSA', 'eddsa-s-plus-l', 'EdDSA with S + L (non-canonical S; RFC 8032 §5.1.7 rejects S ≥ L)', withS(S + L), key, 'bad-signature'),
    edgeCase(baseId, 'EdDSA', 'eddsa-s-plus-2l', 'EdDSA with S + 2L', withS(S + 2n * L), key, 'bad-signature'),
    edgeCase(baseId, 'EdDSA', 'eddsa-s-zero', 'EdDSA with S = 0', withS(0n), key, 'bad-signature'),
    edgeCase(baseId, 'EdDSA', 'eddsa-one-byte-short', 'EdDSA: 63 bytes', signature.subarray(0, -1), key, 'bad-signature'),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-r-identity',
      "EdDSA: R the identity point (y = 1), S = k·a: RFC 8032's equation holds (made with the key's private half), R of small order",
      identityRSignature(seed, publicKey, signingInput, leOf(1n, 32)),
      key,
      // Node 20 and 22, Bun, Deno and workerd accept it, Node 24 and libsodium refuse it: ipstamp
      // refuses an R of small order before any platform is asked (docs/protocol.md §2.4)
      'bad-signature',
    ),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-key-mixed-order',
      'EdDSA: the key A + T (T of order 2: not small order itself), a signature by the holder of A that verifies under it',
      mixedOrderSignature(KEYS['ed-1']!, plusOrderTwo(publicKey), signingInput),
      { ...key, x: b64url(plusOrderTwo(publicKey)) },
      'accepted',
    ),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-r-identity-noncanonical',
      'EdDSA: the same with R spelled y = p + 1 (non-canonical; RFC 8032 §5.1.3 decoding fails)',
      identityRSignature(seed, publicKey, signingInput, leOf(P + 1n, 32)),
      key,
      'bad-signature',
    ),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-key-small-order',
      'EdDSA: the key is the identity point, the signature (identity, 0)',
      identitySignature,
      { ...key, x: b64url(identity) },
      'load-error',
    ),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-key-small-order-noncanonical',
      'EdDSA: the key is the identity point spelled y = p + 1, the signature (identity, 0)',
      identitySignature,
      { ...key, x: b64url(leOf(P + 1n, 32)) },
      'load-error',
    ),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-key-noncanonical-y',
      'EdDSA: the key a point of large order spelled with y ≥ p, the original signature',
      signature,
      { ...key, x: b64url(nonCanonicalEd25519Point()) },
      'bad-signature',
    ),
    edgeCase(
      baseId,
      'EdDSA',
      'eddsa-key-not-a-point',
      'EdDSA: the key a y with no x on the curve',
      signature,
      { ...key, x: b64url(notAPoint()) },
      'bad-signature',
    ),
  ];
}

function hmacCases(): EdgeCase[] {
  const baseId = 'stamp-00-valid-hs256';
  const { signingInput, signature } = baseOf(baseId);
  const key = KEYS['hs-1']!;
  const secretOf = (length: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff));
  const mac = (secret: Buffer) => createHmac('sha256', secret).update(signingInput).digest();
  const withSecret = (secret: Buffer, k = b64url(secret)) => ({ ...key, k });
  return [
    edgeCase(baseId, 'HS256', 'hs256-truncated-16', 'HS256: the MAC cut to 16 bytes', signature.subarray(0, 16), key, 'bad-signature'),
    edgeCase(baseId, 'HS256', 'hs256-truncated-31', 'HS256: the MAC cut to 31 bytes', signature.subarray(0, 31), key, 'bad-signature'),
    edgeCase(baseId, 'HS256', 'hs256-other-secret', 'HS256: the MAC under another secret', mac(secretOf(32)), key, 'bad-signature'),
    edgeCase(baseId, 'HS256', 'hs256-empty', 'HS256: no MAC at all', Buffer.alloc(0), key, 'bad-signature'),
    edgeCase(baseId, 'HS256', 'hs256-secret-33', 'HS256 under a 33-byte secret', mac(secretOf(33)), withSecret(secretOf(33)), 'accepted'),
    edgeCase(
      baseId,
      'HS256',
      'hs256-secret-100',
      'HS256 under a 100-byte secret (longer than the hash block)',
      mac(secretOf(100)),
      withSecret(secretOf(100)),
      'accepted',
    ),
    edgeCase(baseId, 'HS256', 'hs256-secret-31', 'HS256 under a 31-byte secret (§2.3: at least 32)', mac(secretOf(31)), withSecret(secretOf(31)), 'load-error'),
    edgeCase(
      baseId,
      'HS256',
      'hs256-k-padded',
      'HS256: the secret spelled with base64 padding',
      mac(secretOf(32)),
      withSecret(secretOf(32), `${b64url(secretOf(32))}=`),
      'load-error',
    ),
    edgeCase(
      baseId,
      'HS256',
      'hs256-k-base64',
      'HS256: the secret in base64 (+ and /), not base64url',
      mac(secretOf(48)),
      withSecret(secretOf(48), secretOf(48).toString('base64')),
      'load-error',
    ),
  ];
}

/**
 * A ticket (§7.2) from the conformance issuer whose `cnf.jwk` is `clientJwk`, and the stamp
 * beside it (§7.3: kid = the key's RFC 7638 thumbprint, tth = SHA-256 of the ticket) with
 * `signature` — §7.4 item 5 requires a point on its curve, not of small order: `bad-ticket`.
 */
function ticketCase(
  baseId: string,
  id: string,
  what: string,
  clientJwk: Record<string, string>,
  signature: Uint8Array,
  want: EdgeAnswer | EdgeCase['want'],
): EdgeCase {
  const base = tickets.vectors.find((v) => v.id === baseId);
  if (base === undefined || !base.expect.ok) throw new Error(`${baseId}: not an accepted vector of tickets.json`);
  const segment = (value: unknown) => b64url(Buffer.from(JSON.stringify(value)));
  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const headers = base.request.headers as Record<string, string>;
  const issuerKey = createPrivateKey({ key: KEYS['issuer-ed']!, format: 'jwk' });
  const ticketInput = `${segment(headerOf(headers['client-ip-ticket']!))}.${segment({ ...claimsOf(headers['client-ip-ticket']!), cnf: { jwk: clientJwk } })}`;
  const ticket = `${ticketInput}.${b64url(sign(null, Buffer.from(ticketInput), issuerKey))}`;
  const members =
    clientJwk.kty === 'EC'
      ? { crv: clientJwk.crv, kty: clientJwk.kty, x: clientJwk.x, y: clientJwk.y }
      : { crv: clientJwk.crv, kty: clientJwk.kty, x: clientJwk.x };
  const thumbprint = b64url(createHash('sha256').update(JSON.stringify(members)).digest());
  const tth = b64url(createHash('sha256').update(ticket).digest());
  const stamp = headers['client-ip-attestation']!;
  const stampInput = `${segment({ ...headerOf(stamp), kid: thumbprint })}.${segment({ ...claimsOf(stamp), tth })}`;
  const vector = structuredClone(base);
  vector.id = `edge-${id}`;
  vector.description = what;
  vector.request.headers['client-ip-ticket'] = ticket;
  vector.request.headers['client-ip-attestation'] = `${stampInput}.${b64url(signature)}`;
  const keys = vector.keys ?? tickets.keys;
  const alg: Alg = clientJwk.kty === 'EC' ? 'ES256' : 'EdDSA';
  return {
    vector,
    keys,
    what,
    want: typeof want === 'string' ? { node: want, web: want } : want,
    probe: { id: vector.id, alg, jwk: clientJwk, data: stampInput, signature: b64url(signature) },
  };
}

function ticketCases(): EdgeCase[] {
  const ec = publicOf(KEYS['client-ec']!) as Record<string, string>;
  const okp = publicOf(KEYS['client-ed']!) as Record<string, string>;
  const clientEc = { kty: 'EC', crv: 'P-256', x: ec.x!, y: ec.y! };
  const clientEd = { kty: 'OKP', crv: 'Ed25519', x: okp.x! };
  const identity = leOf(1n, 32);
  const identitySignature = Buffer.concat([identity, Buffer.alloc(32)]);
  const offCurveY = b64url(beOf((bigOfBE(Buffer.from(clientEc.y, 'base64url')) + 1n) % 2n ** 256n, 32));
  return [
    ticketCase(
      'ticket-valid-es256-client',
      'ticket-cnf-ec-off-curve',
      "a ticket whose cnf.jwk is a P-256 key's y + 1 (off the curve)",
      { ...clientEc, y: offCurveY },
      Buffer.alloc(64, 1),
      'bad-ticket',
    ),
    ticketCase(
      'ticket-valid-eddsa',
      'ticket-cnf-ed-small-order',
      'a ticket whose cnf.jwk is the Ed25519 identity point; the stamp (identity, 0)',
      { ...clientEd, x: b64url(identity) },
      identitySignature,
      'bad-ticket',
    ),
    ticketCase(
      'ticket-valid-eddsa',
      'ticket-cnf-ed-small-order-noncanonical',
      'a ticket whose cnf.jwk is the identity spelled y = p + 1; the stamp (identity, 0)',
      { ...clientEd, x: b64url(leOf(P + 1n, 32)) },
      identitySignature,
      'bad-ticket',
    ),
    // §7.4 item 5 asks bad-ticket; no platform's crypto checks an Ed25519 point at import (only
    // a point decompression would: hand-written curve arithmetic), so the stamp under it fails
    // step 5 instead — refused alike everywhere (the contract asks more than any platform checks)
    ticketCase(
      'ticket-valid-eddsa',
      'ticket-cnf-ed-not-a-point',
      'a ticket whose cnf.jwk is an Ed25519 y with no point',
      { ...clientEd, x: b64url(notAPoint()) },
      Buffer.alloc(64, 1),
      'bad-signature',
    ),
    ticketCase(
      'ticket-valid-eddsa',
      'ticket-cnf-ed-noncanonical-y',
      'a ticket whose cnf.jwk is a point of large order spelled y ≥ p',
      { ...clientEd, x: b64url(nonCanonicalEd25519Point()) },
      Buffer.alloc(64, 1),
      // §2.3 names y ≥ p for small-order points only: silent on this one
      'bad-signature',
    ),
  ];
}

/** Every case, in a stable order. */
export function cryptoEdgeCases(): EdgeCase[] {
  return [...ecdsaCases('ES256'), ...ecdsaCases('ES384'), ...eddsaCases(), ...hmacCases(), ...ticketCases()];
}

/** An answer in the edge table's words. */
export function edgeAnswerOf(answer: VectorAnswer | undefined): EdgeAnswer | string {
  if (answer === undefined) return 'no answer';
  if ('error' in answer) return 'load-error';
  return answer.run.outcome.ok ? 'accepted' : answer.run.outcome.reason;
}

/** What a runtime's WebCrypto alone said, in a few words. */
export function probeText(probe: ProbeAnswer | undefined): string {
  if (probe === undefined) return 'no answer';
  return probe.imported !== true ? `import: ${probe.imported}` : `verify: ${String(probe.verified)}`;
}

/** Node's answers to `cases`, by vector id: node:crypto (createVerifierCore), the web verifier, WebCrypto directly. */
export async function nodeEdgeAnswers(cases: readonly EdgeCase[]) {
  const counts = { request: 0, plain: 0 };
  const node: Record<string, string> = {};
  const web: Record<string, string> = {};
  const probes: Record<string, string> = {};
  for (const { vector, keys, probe } of cases) {
    const core = await answerOf(vector.id, async () => {
      const remembered: { kid: string; jti: string; untilMs: number }[] = [];
      const verifier = createVerifierCore(verifierOptionsOf(vector, keys, vector.now * 1000, remembered, MemoryReplayStore));
      return { outcome: outcomeOf(await verifier.verify(verifyInputOf(vector))), remembered };
    });
    node[vector.id] = edgeAnswerOf(core);
    web[vector.id] = edgeAnswerOf(await answerOf(vector.id, () => runWebVector({ createWebVerifier, MemoryReplayStore }, vector, keys, counts)));
    probes[vector.id] = probeText(await probeSignature(probe));
  }
  return { node, web, probes };
}
