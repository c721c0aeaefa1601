/**
 * JWS compact serialization (RFC 7515 §7.1), read strictly: the header value taken once, the
 * three segments split, base64url decoded with its alphabet checked, JSON segments parsed
 * without duplicate members. Every token ipstamp reads — stamp, proof, ticket — comes through here.
 *
 * Platform-neutral: the few byte operations that differ between Node (Buffer, fast) and the web
 * (TextEncoder/TextDecoder) come in as `ByteOps`; compact.ts binds Node's, web-bytes.ts the web's.
 */
import { MAX_STAMP_BYTES } from '../../shared/constants.js';
import { parseStrictJsonObject } from '../../shared/strict-json.js';

/** The byte primitives the codec needs from its platform. */
export interface ByteOps {
  /**
   * `text.slice(start, end)` as bytes, in a buffer the ops may reuse until the next call;
   * undefined when a character is beyond ASCII.
   */
  asciiBytesOf(text: string, start: number, end: number): Uint8Array | undefined;
  /** A new byte array of `length` (contents unspecified: every byte is written). */
  alloc(length: number): Uint8Array;
  /** The text of UTF-8 bytes, or undefined when they are not valid UTF-8 (a BOM kept as U+FEFF). */
  utf8(bytes: Uint8Array): string | undefined;
}

/** The stamp header's single value, or undefined when it was sent more than once (see compact.ts). */
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
  readonly signature: Uint8Array;
}

// also refuses a comma, so two header instances joined by Node never split into segments
const SIGNING_INPUT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Sextet of each byte, -1 outside the alphabet (so an OR of four is negative). */
const SEXTET = new Int32Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SEXTET[ALPHABET.charCodeAt(i)] = i;

export interface CompactCodec {
  /** PROTOCOL.md §5 step 2: three base64url segments (the size cap is the caller's, before this). */
  splitCompact(text: string): CompactParts | undefined;
  /** A base64url segment holding a JSON object, decoded strictly: alphabet, UTF-8, no duplicate members. */
  decodeJsonSegment(segment: string): Record<string, unknown> | undefined;
  /** A JSON object from bytes, read strictly: valid UTF-8, no duplicate members. */
  parseJsonBytes(bytes: Uint8Array): Record<string, unknown> | undefined;
  /** `text.slice(start, end)` as bytes in a reused buffer, or undefined beyond ASCII. */
  asciiBytesOf(text: string, start?: number, end?: number): Uint8Array | undefined;
  /**
   * The bytes that `input[start..end)`, base64url text, stands for; undefined when a byte is
   * outside the alphabet or the length cannot be base64url (4n + 1). Unused trailing bits are
   * ignored, as Node's decoder and jose ignore them.
   */
  decodeBase64urlBytes(input: Uint8Array, start: number, end: number): Uint8Array | undefined;
  /** The bytes of the base64url text `text.slice(start, end)`, or undefined (see decodeBase64urlBytes). */
  decodeBase64urlSegment(text: string, start?: number, end?: number): Uint8Array | undefined;
  /**
   * Does a still-unverified stamp header's payload carry this member? For glue deciding whether
   * to read a body before verifying (`cdg`): a value this cannot read answers false, and the
   * verifier then refuses the stamp on its own terms. So does a stamp over §2's cap, unread: it
   * is `malformed` whatever it holds, and reading it would let the runtime's header limit, not
   * the cap, set the work done before verification.
   */
  payloadDeclares(raw: string | readonly string[] | undefined, member: string): boolean;
  /**
   * A member of a stamp header's payload, read as payloadDeclares reads it (undefined for what
   * it cannot read), and as unverified: for a stamp the verifier has accepted, where glue needs a
   * claim the verdict does not carry (the gateway: which configured origin `htu` named).
   */
  payloadMember(raw: string | readonly string[] | undefined, member: string): unknown;
}

/**
 * The codec on one platform's bytes. (The JavaScript decoder costs less per stamp than
 * Buffer.from(segment, 'base64url') and its wrapper, and refuses what that one would skip:
 * Node's decoder skips characters outside the alphabet and reads `+` and `/` as base64.)
 */
export function createCompactCodec(ops: ByteOps): CompactCodec {
  const asciiBytesOf = (text: string, start = 0, end = text.length): Uint8Array | undefined => ops.asciiBytesOf(text, start, end);

  function decodeBase64urlBytes(input: Uint8Array, start: number, end: number): Uint8Array | undefined {
    const length = end - start;
    if (length % 4 === 1) return undefined;
    const out = ops.alloc((length * 3) >> 2);
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

  function decodeBase64urlSegment(text: string, start = 0, end = text.length): Uint8Array | undefined {
    if ((end - start) % 4 === 1) return undefined;
    const input = ops.asciiBytesOf(text, start, end);
    return input === undefined ? undefined : decodeBase64urlBytes(input, 0, end - start);
  }

  function parseJsonBytes(bytes: Uint8Array): Record<string, unknown> | undefined {
    const text = ops.utf8(bytes);
    return text === undefined ? undefined : parseStrictJsonObject(text);
  }

  function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
    const bytes = decodeBase64urlSegment(segment);
    return bytes === undefined ? undefined : parseJsonBytes(bytes);
  }

  function splitCompact(text: string): CompactParts | undefined {
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

  function payloadMember(raw: string | readonly string[] | undefined, member: string): unknown {
    const token = raw === undefined ? undefined : compactHeaderValue(raw);
    const parts = token === undefined || token.length > MAX_STAMP_BYTES ? undefined : splitCompact(token);
    const claims = parts && decodeJsonSegment(parts.payloadSegment);
    return claims !== undefined && Object.hasOwn(claims, member) ? claims[member] : undefined;
  }

  // JSON has no undefined: a member that is there reads as a value, null included
  const payloadDeclares = (raw: string | readonly string[] | undefined, member: string): boolean => payloadMember(raw, member) !== undefined;

  return { splitCompact, decodeJsonSegment, parseJsonBytes, asciiBytesOf, decodeBase64urlBytes, decodeBase64urlSegment, payloadDeclares, payloadMember };
}
