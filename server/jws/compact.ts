/**
 * JWS compact serialization (RFC 7515 §7.1), read strictly: the header value taken once, the
 * three segments split, base64url decoded with its alphabet checked, JSON segments parsed
 * without duplicate members. Every token ipstamp reads — stamp, proof, ticket — comes through here.
 */
import { isUtf8 } from 'node:buffer';
import { parseStrictJsonObject } from '../../shared/strict-json.js';

/**
 * The stamp header's single value, or undefined when it was sent more than once. Node joins
 * repeated unknown headers with ", " — a comma never occurs in a JWS, so a joined pair is
 * caught as surely as an array of two.
 */
export function compactHeaderValue(raw: string | readonly string[]): string | undefined {
  if (typeof raw !== 'string') {
    if (raw.length !== 1) return undefined;
    raw = raw[0]!;
  }
  return raw.includes(',') ? undefined : raw;
}

/** The three segments of a JWS compact serialization, decoded where the verifier needs bytes. */
export interface CompactParts {
  readonly headerSegment: string;
  readonly payloadSegment: string;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

// also refuses a comma, so two header instances joined by Node never split into segments
const SIGNING_INPUT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** PROTOCOL.md §5 step 2: three base64url segments (the size cap is the caller's, before this). */
export function splitCompact(text: string): CompactParts | undefined {
  const firstDot = text.indexOf('.');
  const secondDot = firstDot === -1 ? -1 : text.indexOf('.', firstDot + 1);
  if (secondDot === -1 || firstDot % 4 === 1 || (secondDot - firstDot - 1) % 4 === 1) return undefined;
  const signingInput = text.slice(0, secondDot);
  if (!SIGNING_INPUT.test(signingInput)) return undefined;
  // the signature's decoder checks its alphabet, a third dot included
  const signature = decodeBase64urlSegment(text, secondDot + 1);
  if (signature === undefined) return undefined;
  return {
    headerSegment: text.slice(0, firstDot),
    payloadSegment: text.slice(firstDot + 1, secondDot),
    signingInput,
    signature,
  };
}

const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * A base64url segment holding a JSON object, decoded strictly: base64url alphabet, valid
 * UTF-8, no duplicate members. (The JavaScript decoder costs less per stamp than
 * Buffer.from(segment, 'base64url') and its wrapper, and refuses what that one would skip.)
 */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64urlSegment(segment);
  return bytes === undefined ? undefined : parseJsonBytes(bytes);
}

/** A JSON object from bytes, read strictly: valid UTF-8, no duplicate members. */
export function parseJsonBytes(bytes: Buffer): Record<string, unknown> | undefined {
  const text = bytes.toString('utf8');
  // the decoder writes U+FFFD for every invalid sequence, so text without one came from valid
  // UTF-8 (test/verify/compact.property.test.ts); only text with one needs the byte-level check
  if (text.includes(REPLACEMENT_CHARACTER) && !isUtf8(bytes)) return undefined;
  return parseStrictJsonObject(text);
}

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
