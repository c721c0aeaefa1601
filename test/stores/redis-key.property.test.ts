import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redisKeyOf } from '../../server/stores/redis.js';

/**
 * The Redis key as the store computed it before the one-shot hash (createHash, a 16-byte
 * subarray, Buffer.concat), kept here as the reference: every server sharing a Redis must write
 * the same bytes for the same stamp, whichever version it runs.
 */
function referenceRedisKey(prefix: Buffer, key: string): Buffer {
  const hash = createHash('sha256');
  if ((key as unknown as { isWellFormed(): boolean }).isWellFormed()) hash.update(key, 'utf8');
  else hash.update(Uint8Array.of(0xff)).update(key, 'utf16le');
  const digest = hash.digest().subarray(0, 16);
  for (let i = 0; i < digest.length; i++) if (digest[i] === 0x7b) digest[i] = 0x7a;
  return Buffer.concat([prefix, digest]);
}

// Any UTF-16 code unit (lone surrogates included), whole code points, and the characters the
// key rules care about ("{", "}", U+FFFD, the surrogate boundaries).
const unit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom('{', '}', '\ufffd', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00', 'é', ' '),
);
const opaqueKey = fc.string({ unit, maxLength: 80 });
const prefix = fc.oneof(fc.constant('ipstamp:r:'), fc.constant(''), fc.string({ unit, maxLength: 256 })).map((p) => Buffer.from(p, 'utf8'));

describe('redisKeyOf (the store key) against the createHash reference', () => {
  it('writes the same bytes for any prefix and any key, lone surrogates included', () => {
    fc.assert(
      fc.property(prefix, opaqueKey, (p, key) => {
        expect(redisKeyOf(p, key)).toEqual(referenceRedisKey(p, key));
      }),
      { numRuns: 2000 },
    );
  });

  it('folds "{" the same way: keys whose hash holds 0x7B, and the two cases the Cluster bench found', () => {
    const prefixBytes = Buffer.from('ipstamp:r:');
    const folded: string[] = [];
    for (let i = 0; folded.length < 50 && i < 5000; i++) {
      const key = `kid-1 jti-${i}`;
      const digest = createHash('sha256').update(key).digest().subarray(0, 16);
      if (digest.includes(0x7b)) folded.push(key);
    }
    expect(folded).toHaveLength(50);
    for (const key of [...folded, 'kid-1 jti-141908', 'kid-1 jti-213722']) {
      const redisKey = redisKeyOf(prefixBytes, key);
      expect(redisKey).toEqual(referenceRedisKey(prefixBytes, key));
      expect(redisKey.subarray(prefixBytes.length).includes(0x7b)).toBe(false);
    }
  });

  it('keeps a malformed key apart from its U+FFFD look-alike, and returns a fresh Buffer each time', () => {
    const p = Buffer.from('p:');
    expect(redisKeyOf(p, 'a\ud800')).not.toEqual(redisKeyOf(p, 'a\ufffd'));
    expect(redisKeyOf(p, 'a\ud800')).toEqual(referenceRedisKey(p, 'a\ud800'));
    const one = redisKeyOf(p, 'same');
    const two = redisKeyOf(p, 'same');
    expect(one).toEqual(two);
    two[0] = 0;
    expect(one[0]).toBe(p[0]);
    expect(one.length).toBe(p.length + 16);
  });
});
