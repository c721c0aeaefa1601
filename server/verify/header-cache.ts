import { stampHeaderSchema, type StampHeader } from '../../shared/schema.js';
import { decodeJsonSegment } from './compact.js';

const MAX_CACHED_HEADERS = 1024;

/**
 * A client sends the same JOSE header segment on every stamp (same alg, typ, kid), so its
 * decoded, checked form is remembered by its exact text. Bounded: when full it starts over,
 * so hostile variety costs a re-parse, never memory.
 */
export function createHeaderDecoder(): (segment: string) => StampHeader | undefined {
  const cache = new Map<string, StampHeader | null>();
  return (segment) => {
    let header = cache.get(segment);
    if (header === undefined) {
      const json = decodeJsonSegment(segment);
      const parsed = json && stampHeaderSchema.safeParse(json);
      header = parsed?.success ? parsed.data : null;
      if (cache.size >= MAX_CACHED_HEADERS) cache.clear();
      cache.set(segment, header);
    }
    return header ?? undefined;
  };
}
