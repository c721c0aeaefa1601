/**
 * SipHash-c-d with a 128-bit tag (Aumasson & Bernstein; reference `siphash.c` with outlen 16),
 * in 32-bit halves so that it runs on V8 small integers: no BigInt, no allocation.
 *
 * Why SipHash and not sha256: it is a keyed PRF built for exactly this job — hash-table keys
 * that an attacker chooses — and in plain JS it is several times faster than `crypto.hash`,
 * whose native call alone costs ~1.3 µs for a 70-character key.
 *
 * The message is the UTF-16LE encoding of a JS string (two bytes per code unit). That encoding
 * is injective for every string, lone surrogates included, where UTF-8 would map them all to
 * U+FFFD and make distinct keys collide.
 */

/** A 128-bit SipHash key as four little-endian 32-bit words: k0 low, k0 high, k1 low, k1 high. */
export type SipHashKey = Int32Array;

export function sipHashKeyFromBytes(bytes: Uint8Array): SipHashKey {
  if (bytes.length !== 16) throw new TypeError('a SipHash key is 16 bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return Int32Array.of(view.getInt32(0, true), view.getInt32(4, true), view.getInt32(8, true), view.getInt32(12, true));
}

/**
 * Writes SipHash-c-d-128(key, UTF-16LE(message)) into `out` as four 32-bit words: the tag's
 * bytes 0–3, 4–7, 8–11, 12–15 read little-endian. c = 1, d = 3 (SipHash-1-3, as Rust's and
 * CPython's hash tables use) unless told otherwise; the 2-4 variant is there for the reference
 * test vectors.
 */
export function sipHash128(key: SipHashKey, message: string, out: Int32Array, c = 1, d = 3): void {
  const k0l = key[0]! | 0,
    k0h = key[1]! | 0,
    k1l = key[2]! | 0,
    k1h = key[3]! | 0;
  let v0l = k0l ^ 0x70736575,
    v0h = k0h ^ 0x736f6d65;
  let v1l = k1l ^ 0x6e646f6d ^ 0xee,
    v1h = k1h ^ 0x646f7261;
  let v2l = k0l ^ 0x6e657261,
    v2h = k0h ^ 0x6c796765;
  let v3l = k1l ^ 0x79746573,
    v3h = k1h ^ 0x74656462;
  let lo = 0,
    t = 0,
    ml = 0,
    mh = 0;

  // The rounds are written out twice below (absorb, finalize) on purpose: the state must stay
  // in local variables, which a helper function could not update without an object.
  const units = message.length;
  const whole = units & ~3;
  for (let i = 0; i <= whole; i += 4) {
    if (i < whole) {
      ml = message.charCodeAt(i) | (message.charCodeAt(i + 1) << 16);
      mh = message.charCodeAt(i + 2) | (message.charCodeAt(i + 3) << 16);
    } else {
      // Last word: the remaining 0–3 code units, and the byte length mod 256 in the top byte.
      const rest = units - whole;
      ml = rest >= 1 ? message.charCodeAt(i) : 0;
      if (rest >= 2) ml |= message.charCodeAt(i + 1) << 16;
      mh = (((units * 2) & 0xff) << 24) | (rest === 3 ? message.charCodeAt(i + 2) : 0);
    }
    v3l ^= ml;
    v3h ^= mh;
    for (let r = 0; r < c; r++) {
      lo = (v0l + v1l) | 0;
      v0h = (v0h + v1h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = lo;
      t = v1h;
      v1h = ((v1h << 13) | (v1l >>> 19)) ^ v0h;
      v1l = ((v1l << 13) | (t >>> 19)) ^ v0l;
      t = v0l;
      v0l = v0h;
      v0h = t;
      lo = (v2l + v3l) | 0;
      v2h = (v2h + v3h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = lo;
      t = v3h;
      v3h = ((v3h << 16) | (v3l >>> 16)) ^ v2h;
      v3l = ((v3l << 16) | (t >>> 16)) ^ v2l;
      lo = (v0l + v3l) | 0;
      v0h = (v0h + v3h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = lo;
      t = v3h;
      v3h = ((v3h << 21) | (v3l >>> 11)) ^ v0h;
      v3l = ((v3l << 21) | (t >>> 11)) ^ v0l;
      lo = (v2l + v1l) | 0;
      v2h = (v2h + v1h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = lo;
      t = v1h;
      v1h = ((v1h << 17) | (v1l >>> 15)) ^ v2h;
      v1l = ((v1l << 17) | (t >>> 15)) ^ v2l;
      t = v2l;
      v2l = v2h;
      v2h = t;
    }
    v0l ^= ml;
    v0h ^= mh;
  }

  v2l ^= 0xee;
  for (let half = 0; half < 4; half += 2) {
    for (let r = 0; r < d; r++) {
      lo = (v0l + v1l) | 0;
      v0h = (v0h + v1h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = lo;
      t = v1h;
      v1h = ((v1h << 13) | (v1l >>> 19)) ^ v0h;
      v1l = ((v1l << 13) | (t >>> 19)) ^ v0l;
      t = v0l;
      v0l = v0h;
      v0h = t;
      lo = (v2l + v3l) | 0;
      v2h = (v2h + v3h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = lo;
      t = v3h;
      v3h = ((v3h << 16) | (v3l >>> 16)) ^ v2h;
      v3l = ((v3l << 16) | (t >>> 16)) ^ v2l;
      lo = (v0l + v3l) | 0;
      v0h = (v0h + v3h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = lo;
      t = v3h;
      v3h = ((v3h << 21) | (v3l >>> 11)) ^ v0h;
      v3l = ((v3l << 21) | (t >>> 11)) ^ v0l;
      lo = (v2l + v1l) | 0;
      v2h = (v2h + v1h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = lo;
      t = v1h;
      v1h = ((v1h << 17) | (v1l >>> 15)) ^ v2h;
      v1l = ((v1l << 17) | (t >>> 15)) ^ v2l;
      t = v2l;
      v2l = v2h;
      v2h = t;
    }
    out[half] = v0l ^ v1l ^ v2l ^ v3l;
    out[half + 1] = v0h ^ v1h ^ v2h ^ v3h;
    v1l ^= 0xdd;
  }
}
