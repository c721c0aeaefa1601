import type { StampHeader } from '../../shared/schema.js';
import { matchesStampHeader } from '../../shared/token-checks.js';
import type { CompactCodec } from '../jws/compact-codec.js';

/** A stamp split and decoded as far as steps 2–5 need; the claims are parsed at step 6. */
export interface StampParts {
  readonly header: StampHeader;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Uint8Array;
  readonly payload: Uint8Array;
}

/**
 * PROTOCOL.md §5 steps 2–3 for the verifier: the answers splitCompact and a header check give,
 * with less work. Each segment's alphabet is checked by decoding it — the payload's too, so a
 * bad character there is `malformed` (step 2) before any header verdict — and a header segment
 * the decoder has seen before needs no check at all (test/verify/stamp-reader.property.test.ts).
 */
export function readStamp(token: string, decodeHeader: HeaderDecoder, codec: CompactCodec): StampParts | 'malformed' | 'bad-header' {
  const { asciiBytesOf, decodeBase64urlBytes } = codec;
  const firstDot = token.indexOf('.');
  const secondDot = firstDot === -1 ? -1 : token.indexOf('.', firstDot + 1);
  if (firstDot <= 0 || secondDot === -1) return 'malformed';
  // payload and signature as bytes in one native call; the decoder refuses the dot between
  // them like any other stray character, so a third dot in the signature is malformed
  const bytes = asciiBytesOf(token, firstDot + 1);
  const payloadEnd = secondDot - firstDot - 1;
  const payload = bytes && decodeBase64urlBytes(bytes, 0, payloadEnd);
  const signature = payload && decodeBase64urlBytes(bytes!, payloadEnd + 1, token.length - firstDot - 1);
  if (!signature) return 'malformed';
  const header = decodeHeader(token.slice(0, firstDot));
  if (typeof header === 'string') return header;
  return { header, signingInput: token.slice(0, secondDot), signature, payload: payload! };
}

const MAX_CACHED_HEADERS = 1024;
/**
 * Longest segment remembered: a header of alg, typ and a kid of 128 characters takes 231. A
 * longer one is checked each time it comes: ~3,000 characters of nested arrays parse to ~60 KB,
 * and 1,024 of them, unsigned, held ~60 MB (test/verify/resource-bounds.test.ts).
 */
const MAX_CACHED_SEGMENT_LENGTH = 256;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A header segment's verdict: the checked header, or the step it fails (PROTOCOL.md §5 steps 2–3). */
export type HeaderAnswer = StampHeader | 'malformed' | 'bad-header';
export type HeaderDecoder = (segment: string) => HeaderAnswer;

/**
 * A client sends the same JOSE header segment on every stamp (same alg, typ, kid), so its
 * decoded, checked form is remembered by its exact text — which then needs no alphabet check
 * either. Bounded: when full it starts over, so hostile variety costs a re-parse, never memory;
 * and only short segments are remembered, so no entry is large. A segment that is not base64url
 * is never remembered.
 */
export function createHeaderDecoder(codec: CompactCodec): HeaderDecoder {
  const cache = new Map<string, StampHeader | 'bad-header'>();
  // the last segment seen, compared before the map: equal text costs a compare, not a hash
  let lastSegment = '';
  let lastAnswer: HeaderAnswer = 'bad-header';
  return (segment) => {
    if (segment === lastSegment) return lastAnswer;
    let answer = cache.get(segment);
    if (answer === undefined) {
      if (segment.length % 4 === 1 || !SEGMENT.test(segment)) return 'malformed';
      const json = codec.decodeJsonSegment(segment);
      // the schema's compiled twin (shared/token-checks.ts): no schema library on the hot path
      answer = json !== undefined && matchesStampHeader(json) ? (json as StampHeader) : 'bad-header';
      if (segment.length > MAX_CACHED_SEGMENT_LENGTH) return answer;
      if (cache.size >= MAX_CACHED_HEADERS) cache.clear();
      cache.set(segment, answer);
    }
    lastSegment = segment;
    lastAnswer = answer;
    return answer;
  };
}
