import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64url, decodeBase64urlText, encodeBase64url, encodeBase64urlText, isBase64url } from '../../shared/base64url.js';

// the browser-safe codec (shared/base64url.ts), checked against Node's own base64url
const RUNS = { numRuns: 300 };
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const segment = fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 40 });
// outside the alphabet: what base64 has instead, padding, separators, and the first code units past ASCII
const ODD = ['+', '/', '=', '.', ' ', '\n', '\0', '\u007f', '\u0080', 'é', '\u0141', '\uDC00', '\u{1F600}'];

describe('encodeBase64url', () => {
  it('writes what Node writes: no padding, every length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(encodeBase64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
      }),
      RUNS,
    );
    // every last group, with every bit set
    for (const length of [0, 1, 2, 3, 4, 5]) expect(encodeBase64url(new Uint8Array(length).fill(255))).toBe(Buffer.alloc(length, 255).toString('base64url'));
  });

  it('encodes text as its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (text) => {
        expect(encodeBase64urlText(text)).toBe(Buffer.from(text, 'utf8').toString('base64url'));
      }),
      RUNS,
    );
  });
});

describe('decodeBase64url', () => {
  it('decodes valid base64url as Node does, unused trailing bits included; a length of 4n+1 is refused', () => {
    fc.assert(
      fc.property(segment, (text) => {
        const expected = text.length % 4 === 1 ? undefined : Uint8Array.from(Buffer.from(text, 'base64url'));
        expect(isBase64url(text)).toBe(expected !== undefined);
        expect(decodeBase64url(text)).toStrictEqual(expected);
      }),
      RUNS,
    );
    expect(decodeBase64url('__8')).toStrictEqual(Uint8Array.of(255, 255));
    expect(decodeBase64url('_w')).toStrictEqual(Uint8Array.of(255));
  });

  it('round-trips every byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(decodeBase64url(encodeBase64url(bytes))).toStrictEqual(bytes);
      }),
      RUNS,
    );
  });

  it('refuses any character outside the alphabet, where Node would skip it or read base64', () => {
    fc.assert(
      fc.property(segment, fc.constantFrom(...ODD), fc.nat(), (text, odd, at) => {
        const i = at % (text.length + 1);
        const spoilt = `${text.slice(0, i)}${odd}${text.slice(i)}`;
        expect(isBase64url(spoilt)).toBe(false);
        expect(decodeBase64url(spoilt)).toBeUndefined();
      }),
      RUNS,
    );
    // padded base64url, and base64 proper
    for (const odd of ['AA==', 'AAA=', 'a+/b', ...ODD]) expect(decodeBase64url(odd)).toBeUndefined();
  });
});

describe('decodeBase64urlText', () => {
  it('gives the UTF-8 text, and undefined for bytes that are not UTF-8 or text that is not base64url', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (text) => {
        expect(decodeBase64urlText(Buffer.from(text, 'utf8').toString('base64url'))).toBe(text);
      }),
      RUNS,
    );
    // a lone continuation byte, an overlong "/", a UTF-8-encoded surrogate: no replacement character
    for (const bytes of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x61, 0xff]]) {
      expect(decodeBase64urlText(Buffer.from(bytes).toString('base64url'))).toBeUndefined();
    }
    expect(decodeBase64urlText('YQ=')).toBeUndefined();
  });
});
