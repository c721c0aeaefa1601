import { describe, expect, it } from 'vitest';
import { sipHash128, sipHashKeyFromBytes } from '../../server/stores/siphash.js';

// veorq/SipHash vectors.h, vectors_sip128 (SipHash-2-4, 128-bit tag): key 00..0f, message
// 00 01 .. (len-1). Strings hash as UTF-16LE, so the even lengths are the ones a string can be.
const VECTORS_SIP128: Record<number, string> = {
  0: 'a3817f04ba25a8e66df67214c7550293',
  2: '8177228da4a45dc7fca38bdef60affe4',
  4: 'f88164c12d9c8faf7d0f6e7c7bcd5579',
  6: '14eeca338b208613485ea0308fd7a15e',
  8: '3b62a9ba6258f5610f83e264f31497b4',
  10: '00110dc378146956c95447d3f3d0fbba',
  14: '31fcefac66d7de9c7ec7485fe4494902',
  16: '6ee2a4ca67b054bbfd3315bf85230577',
  30: 'ea5c7f471faf6bde2b1ad7d4686d2287',
  32: '7c3956ca5eeafc3e363e9d556546eb68',
  62: '5853542321f567a005d547a4f04759bd',
};

const referenceKey = sipHashKeyFromBytes(Uint8Array.from({ length: 16 }, (_, i) => i));

/** The string whose UTF-16LE bytes are 00 01 02 .. (len-1). */
const messageOf = (length: number): string => {
  let text = '';
  for (let i = 0; i < length; i += 2) text += String.fromCharCode(i | ((i + 1) << 8));
  return text;
};

const hex = (words: Int32Array): string => Buffer.from(words.buffer, words.byteOffset, 16).toString('hex');

describe('sipHash128', () => {
  it('matches the reference SipHash-2-4-128 vectors', () => {
    const out = new Int32Array(4);
    for (const [length, expected] of Object.entries(VECTORS_SIP128)) {
      sipHash128(referenceKey, messageOf(Number(length)), out, 2, 4);
      expect(hex(out), `length ${length}`).toBe(expected);
    }
  });

  it('tells apart strings that UTF-8 would merge (lone surrogates)', () => {
    const tag = (text: string): string => {
      const out = new Int32Array(4);
      sipHash128(referenceKey, text, out);
      return hex(out);
    };
    const tags = ['\uD800', '\uDC00', '\uFFFD', '\uD800\uDC00', '\u{10000}'.slice(0, 1)].map(tag);
    expect(new Set(tags).size).toBe(4); // '\u{10000}'.slice(0, 1) is '\uD800'
    expect(tag('')).not.toBe(tag('\0'));
  });

  it('depends on the key', () => {
    const a = new Int32Array(4);
    const b = new Int32Array(4);
    sipHash128(referenceKey, 'kid jti', a);
    sipHash128(sipHashKeyFromBytes(new Uint8Array(16)), 'kid jti', b);
    expect(hex(a)).not.toBe(hex(b));
  });

  it('refuses a key that is not 16 bytes', () => {
    expect(() => sipHashKeyFromBytes(new Uint8Array(15))).toThrow(TypeError);
  });
});
