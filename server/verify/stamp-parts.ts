import type { StampHeader } from '../../shared/schema.js';
import { asciiBytesOf, decodeBase64urlBytes } from '../jws/base64url-segment.js';
import type { HeaderDecoder } from './header-cache.js';

/** A stamp split and decoded as far as steps 2–5 need; the claims are parsed at step 6. */
export interface StampParts {
  readonly header: StampHeader;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
  readonly payload: Buffer;
}

/**
 * PROTOCOL.md §5 steps 2–3 for the verifier: the answers splitCompact and a header check give,
 * with less work. Each segment's alphabet is checked by decoding it — the payload's too, so a
 * bad character there is `malformed` (step 2) before any header verdict — and a header segment
 * the decoder has seen before needs no check at all (test/verify/stamp-parts.property.test.ts).
 */
export function readStamp(token: string, decodeHeader: HeaderDecoder): StampParts | 'malformed' | 'bad-header' {
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
