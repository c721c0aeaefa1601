import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sipHash128, sipHashKeyFromBytes } from '../../server/stores/siphash.js';

/**
 * The published vectors (siphash.test.ts) pin SipHash-2-4 only, but the store hashes with the
 * default rounds, SipHash-1-3 (docs/replay-stores.md): nothing else checked that the default is
 * 1-3, nor the 1-3 tag of any message. This is a second, deliberately naive implementation of
 * SipHash-c-d-128 on 64-bit BigInts, written from the paper's description rather than ported
 * from the 32-bit code, first checked against the published 2-4 vectors and then used as the
 * oracle for the 1-3 default on random keys and strings.
 */

const MASK64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK64;
const readLE64 = (bytes: Uint8Array, at: number): bigint => {
  let word = 0n;
  for (let i = 7; i >= 0; i--) word = (word << 8n) | BigInt(bytes[at + i] ?? 0);
  return word;
};

function referenceSipHash128(key: Uint8Array, message: Uint8Array, c: number, d: number): string {
  const k0 = readLE64(key, 0);
  const k1 = readLE64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn ^ 0xeen; // 0xee: the 128-bit output variant
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK64;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK64;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK64;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK64;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const whole = message.length - (message.length % 8);
  const blocks: bigint[] = [];
  for (let at = 0; at < whole; at += 8) blocks.push(readLE64(message, at));
  // last block: the 0-7 remaining bytes, and the length mod 256 in the top byte
  const tail = new Uint8Array(8);
  tail.set(message.subarray(whole));
  blocks.push(readLE64(tail, 0) | (BigInt(message.length & 0xff) << 56n));
  for (const m of blocks) {
    v3 ^= m;
    for (let r = 0; r < c; r++) round();
    v0 ^= m;
  }
  v2 ^= 0xeen;
  for (let r = 0; r < d; r++) round();
  const first = v0 ^ v1 ^ v2 ^ v3;
  v1 ^= 0xddn;
  for (let r = 0; r < d; r++) round();
  const second = v0 ^ v1 ^ v2 ^ v3;
  const out = Buffer.alloc(16);
  out.writeBigUInt64LE(first, 0);
  out.writeBigUInt64LE(second, 8);
  return out.toString('hex');
}

/** UTF-16LE code unit by code unit, lone surrogates included (what sipHash128 hashes). */
const utf16le = (text: string): Uint8Array => {
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    bytes[2 * i] = text.charCodeAt(i) & 0xff;
    bytes[2 * i + 1] = text.charCodeAt(i) >>> 8;
  }
  return bytes;
};

const hex = (words: Int32Array): string => Buffer.from(words.buffer, words.byteOffset, 16).toString('hex');

const tagOf = (key: Uint8Array, text: string, rounds?: [number, number]): string => {
  const out = new Int32Array(4);
  if (rounds === undefined) sipHash128(sipHashKeyFromBytes(key), text, out);
  else sipHash128(sipHashKeyFromBytes(key), text, out, ...rounds);
  return hex(out);
};

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
// lengths around every block boundary (0-3 code units past a whole block), and longer keys
const text = fc.string({ unit: codeUnit, maxLength: 41 });
const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

describe('sipHash128 against an independent 64-bit reference', () => {
  it('the reference itself reproduces published SipHash-2-4-128 vectors (odd lengths too)', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const message = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i);
    // veorq/SipHash vectors.h, vectors_sip128
    expect(referenceSipHash128(key, message(0), 2, 4)).toBe('a3817f04ba25a8e66df67214c7550293');
    expect(referenceSipHash128(key, message(1), 2, 4)).toBe('da87c1d86b99af44347659119b22fc45');
    expect(referenceSipHash128(key, message(3), 2, 4)).toBe('9c70b60c5267a94e5f33b6b02985ed51');
    expect(referenceSipHash128(key, message(7), 2, 4)).toBe('a1f1ebbed8dbc153c0b84aa61ff08239');
    expect(referenceSipHash128(key, message(8), 2, 4)).toBe('3b62a9ba6258f5610f83e264f31497b4');
    expect(referenceSipHash128(key, message(15), 2, 4)).toBe('5493e99933b0a8117e08ec0f97cfc3d9');
    expect(referenceSipHash128(key, message(62), 2, 4)).toBe('5853542321f567a005d547a4f04759bd');
  });

  it('the default rounds are SipHash-1-3, tag for tag (property)', () => {
    fc.assert(
      fc.property(key16, text, (key, message) => {
        expect(tagOf(key, message)).toBe(referenceSipHash128(key, utf16le(message), 1, 3));
      }),
      { numRuns: 500 },
    );
  });

  it('any other round counts agree with the reference too (property)', () => {
    fc.assert(
      fc.property(key16, text, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), (key, message, c, d) => {
        expect(tagOf(key, message, [c, d])).toBe(referenceSipHash128(key, utf16le(message), c, d));
      }),
      { numRuns: 200 },
    );
  });

  it('takes a key of exactly 16 bytes, refusing longer ones as well as shorter', () => {
    for (const length of [0, 8, 15, 17, 32]) expect(() => sipHashKeyFromBytes(new Uint8Array(length)), `length ${length}`).toThrow(TypeError);
    // a view into a larger buffer reads its own 16 bytes, not the buffer's first ones
    const backing = Uint8Array.from({ length: 48 }, (_, i) => i);
    const view = backing.subarray(16, 32);
    expect(tagOf(view, 'kid jti')).toBe(referenceSipHash128(view.slice(), utf16le('kid jti'), 1, 3));
  });
});
