import { isUtf8 } from 'node:buffer';
import { parseStrictJsonObject } from '../../shared/strict-json.js';
import { decodeBase64urlSegment } from './base64url-segment.js';

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
