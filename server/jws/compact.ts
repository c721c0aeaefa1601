/**
 * The compact codec (compact-codec.ts) on Node's bytes: Buffer writes and reads ASCII and
 * UTF-8 in one native call each. Every Node adapter and the Node verifier read tokens here.
 */
import { isUtf8 } from 'node:buffer';
import { createCompactCodec, type ByteOps } from './compact-codec.js';

export { compactHeaderValue, type CompactParts, type CompactCodec, type ByteOps } from './compact-codec.js';

const REPLACEMENT_CHARACTER = '\uFFFD';

let scratch = Buffer.allocUnsafe(4096);

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** Node's byte operations: Buffer, with the pool for small allocations. */
export const nodeByteOps: ByteOps = {
  // one native call into a buffer reused until the next call — reading bytes is several times
  // cheaper than charCodeAt on the sliced strings a token split yields. Written as UTF-8, so
  // any character beyond ASCII shows in the count (latin1 would fold 'Ł' into 'A').
  asciiBytesOf(text, start, end) {
    const length = end - start;
    if (length * 3 > scratch.length) scratch = Buffer.allocUnsafe(length * 3);
    const written = scratch.write(start === 0 && end === text.length ? text : text.slice(start, end), 0, 'utf8');
    return written === length ? scratch : undefined;
  },
  alloc: (length) => Buffer.allocUnsafe(length),
  utf8(bytes) {
    const buffer = asBuffer(bytes);
    const text = buffer.toString('utf8');
    // the decoder writes U+FFFD for every invalid sequence, so text without one came from valid
    // UTF-8 (test/verify/compact.property.test.ts); only text with one needs the byte-level check
    return text.includes(REPLACEMENT_CHARACTER) && !isUtf8(buffer) ? undefined : text;
  },
};

export const nodeCompactCodec = createCompactCodec(nodeByteOps);

export const { splitCompact, decodeJsonSegment, parseJsonBytes, asciiBytesOf, decodeBase64urlBytes, decodeBase64urlSegment } = nodeCompactCodec;

/** Does the (still unverified) stamp declare `cdg`? The Node glue decides with it whether the body bytes matter. */
export const stampDeclaresBodyDigest = (raw: string | readonly string[] | undefined): boolean => nodeCompactCodec.payloadDeclares(raw, 'cdg');
