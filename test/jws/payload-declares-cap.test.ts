import { describe, expect, it } from 'vitest';
import { nodeByteOps, stampDeclaresBodyDigest } from '../../server/jws/compact.js';
import { createCompactCodec, type ByteOps } from '../../server/jws/compact-codec.js';
import { webByteOps, webCompactCodec } from '../../server/jws/web-bytes.js';
import { MAX_STAMP_BYTES } from '../../shared/constants.js';

/**
 * Whether a stamp declares `cdg` is read before it is verified (the glue decides with it whether
 * to keep the body). A stamp over PROTOCOL §2's 4,096 characters is `malformed` whatever it
 * holds, so that early read stops at the cap too: the work it does, counted here as the
 * characters handed to the codec's byte operations, follows the cap, not the size of the header
 * the runtime let through (16 KB on Node by default, more where it is raised).
 */

const segment = (text: string): string => Buffer.from(text).toString('base64url');
const HEADER = segment('{"alg":"HS256","typ":"ipstamp+jwt","kid":"c1"}');

/** A stamp of exactly `length` characters whose payload declares `cdg`, the rest of it deep nesting (costly to parse). */
function stampOfLength(length: number): string {
  // two bytes of payload a level, four characters of base64url for three bytes: start just short
  const start = Math.max(1, Math.floor(((length - HEADER.length - 80) * 3) / 8));
  for (let depth = start; ; depth++) {
    const prefix = `${HEADER}.${segment(`{"cdg":"x","pad":${'['.repeat(depth)}${']'.repeat(depth)}}`)}.`;
    const signature = length - prefix.length;
    if (signature < 2) throw new Error(`no stamp of ${length} characters`);
    // base64url never has 4n + 1 characters
    if (signature <= 48 && signature % 4 !== 1) return `${prefix}${'A'.repeat(signature)}`;
  }
}

function countingCodec(ops: ByteOps) {
  const read = { calls: 0, characters: 0, decoded: 0 };
  const codec = createCompactCodec({
    ...ops,
    asciiBytesOf(text, start, end) {
      read.calls++;
      read.characters += end - start;
      return ops.asciiBytesOf(text, start, end);
    },
    utf8(bytes) {
      read.decoded++;
      return ops.utf8(bytes);
    },
  });
  return { codec, read };
}

describe('the cdg read before verification stops at the stamp cap', () => {
  it('a stamp of exactly 4,096 characters is read (4,096 characters at most) and declares cdg', () => {
    const stamp = stampOfLength(MAX_STAMP_BYTES);
    expect(stamp).toHaveLength(MAX_STAMP_BYTES);
    for (const ops of [nodeByteOps, webByteOps]) {
      const { codec, read } = countingCodec(ops);
      expect(codec.payloadDeclares(stamp, 'cdg')).toBe(true);
      expect(read.characters).toBeGreaterThan(0);
      expect(read.characters).toBeLessThanOrEqual(MAX_STAMP_BYTES);
      expect(read.decoded).toBe(1);
    }
  });

  it('one character more, or a header of 16 KB or 1 MB: no declaration, and not one character decoded', () => {
    for (const length of [MAX_STAMP_BYTES + 1, 16_384, 1 << 20]) {
      const stamp = stampOfLength(length);
      expect(stamp).toHaveLength(length);
      for (const ops of [nodeByteOps, webByteOps]) {
        const { codec, read } = countingCodec(ops);
        expect(codec.payloadDeclares(stamp, 'cdg')).toBe(false);
        expect(read).toEqual({ calls: 0, characters: 0, decoded: 0 });
      }
      // the codecs every adapter uses
      expect(stampDeclaresBodyDigest(stamp)).toBe(false);
      expect(webCompactCodec.payloadDeclares(stamp, 'cdg')).toBe(false);
      expect(stampDeclaresBodyDigest([stamp])).toBe(false);
    }
  });
});
