/**
 * A base64url segment (RFC 7515 §2: no padding) decoded into a Buffer, checking the alphabet
 * as it goes. For a stamp's segments this costs less than Node's decoder alone, and Node's
 * decoder would also need a regular expression first: it skips characters outside the
 * alphabet and reads `+` and `/` as the base64 alphabet, so it cannot be asked to refuse.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Sextet of each byte, -1 outside the alphabet (so an OR of four is negative). */
const SEXTET = new Int32Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SEXTET[ALPHABET.charCodeAt(i)] = i;

let scratch = Buffer.allocUnsafe(4096);

/**
 * `text.slice(start, end)` as bytes, by one native call into a buffer reused until the next
 * call — reading bytes is several times cheaper than charCodeAt on the sliced strings a token
 * split yields. Undefined when a character is beyond ASCII: the text is written as UTF-8, so
 * any such character shows (latin1 would fold 'Ł' into 'A').
 */
export function asciiBytesOf(text: string, start = 0, end = text.length): Buffer | undefined {
  const length = end - start;
  if (length * 3 > scratch.length) scratch = Buffer.allocUnsafe(length * 3);
  const written = scratch.write(start === 0 && end === text.length ? text : text.slice(start, end), 0, 'utf8');
  return written === length ? scratch : undefined;
}

/**
 * The bytes that `input[start..end)`, base64url text, stands for; undefined when a byte is
 * outside the alphabet or the length cannot be base64url (4n + 1). Unused trailing bits are
 * ignored, as Node's decoder and jose ignore them.
 */
export function decodeBase64urlBytes(input: Uint8Array, start: number, end: number): Buffer | undefined {
  const length = end - start;
  if (length % 4 === 1) return undefined;
  const out = Buffer.allocUnsafe((length * 3) >> 2);
  let o = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    const n = (SEXTET[input[i]!]! << 18) | (SEXTET[input[i + 1]!]! << 12) | (SEXTET[input[i + 2]!]! << 6) | SEXTET[input[i + 3]!]!;
    // any -1 makes the whole word negative
    if (n < 0) return undefined;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const rest = end - i;
  if (rest >= 2) {
    const c = rest === 3 ? SEXTET[input[i + 2]!]! : 0;
    const n = (SEXTET[input[i]!]! << 18) | (SEXTET[input[i + 1]!]! << 12) | (c << 6);
    if (n < 0) return undefined;
    out[o++] = n >> 16;
    if (rest === 3) out[o++] = (n >> 8) & 255;
  }
  return out;
}

/** The bytes of the base64url text `text.slice(start, end)`, or undefined (see decodeBase64urlBytes). */
export function decodeBase64urlSegment(text: string, start = 0, end = text.length): Buffer | undefined {
  if ((end - start) % 4 === 1) return undefined;
  const input = asciiBytesOf(text, start, end);
  return input === undefined ? undefined : decodeBase64urlBytes(input, 0, end - start);
}
