import { stampHeaderSchema, type StampHeader } from '../../shared/schema.js';
import { decodeJsonSegment } from '../jws/compact.js';

const MAX_CACHED_HEADERS = 1024;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A header segment's verdict: the checked header, or the step it fails (PROTOCOL.md §5 steps 2–3). */
export type HeaderAnswer = StampHeader | 'malformed' | 'bad-header';
export type HeaderDecoder = (segment: string) => HeaderAnswer;

/**
 * A client sends the same JOSE header segment on every stamp (same alg, typ, kid), so its
 * decoded, checked form is remembered by its exact text — which then needs no alphabet check
 * either. Bounded: when full it starts over, so hostile variety costs a re-parse, never memory.
 * A segment that is not base64url is never remembered.
 */
export function createHeaderDecoder(): HeaderDecoder {
  const cache = new Map<string, StampHeader | 'bad-header'>();
  // the last segment seen, compared before the map: equal text costs a compare, not a hash
  let lastSegment = '';
  let lastAnswer: HeaderAnswer = 'bad-header';
  return (segment) => {
    if (segment === lastSegment) return lastAnswer;
    let answer = cache.get(segment);
    if (answer === undefined) {
      if (segment.length % 4 === 1 || !SEGMENT.test(segment)) return 'malformed';
      const json = decodeJsonSegment(segment);
      const parsed = json && stampHeaderSchema.safeParse(json);
      answer = parsed?.success ? parsed.data : 'bad-header';
      if (cache.size >= MAX_CACHED_HEADERS) cache.clear();
      cache.set(segment, answer);
    }
    lastSegment = segment;
    lastAnswer = answer;
    return answer;
  };
}
