import { isUtf8 } from 'node:buffer';
import { parseStrictJsonObject } from '../../shared/strict-json.js';

/** The three segments of a JWS compact serialization, decoded where the verifier needs bytes. */
export interface CompactParts {
  readonly headerSegment: string;
  readonly payloadSegment: string;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

const COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)$/;

/** PROTOCOL.md §5 step 2: three base64url segments (the size cap is the caller's, before this). */
export function splitCompact(text: string): CompactParts | undefined {
  const m = COMPACT.exec(text);
  if (!m) return undefined;
  const headerSegment = m[1]!;
  const payloadSegment = m[2]!;
  const signatureSegment = m[3]!;
  if (headerSegment.length % 4 === 1 || payloadSegment.length % 4 === 1 || signatureSegment.length % 4 === 1) {
    return undefined;
  }
  return {
    headerSegment,
    payloadSegment,
    signingInput: text.slice(0, headerSegment.length + 1 + payloadSegment.length),
    signature: Buffer.from(signatureSegment, 'base64url'),
  };
}

/** A base64url segment holding a JSON object, decoded strictly: valid UTF-8, no duplicate members. */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  const bytes = Buffer.from(segment, 'base64url');
  if (!isUtf8(bytes)) return undefined;
  return parseStrictJsonObject(bytes.toString('utf8'));
}
