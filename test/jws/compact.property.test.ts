import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64urlSegment, decodeJsonSegment, nodeCompactCodec, splitCompact } from '../../server/jws/compact.js';
import { webCompactCodec } from '../../server/jws/web-bytes.js';

/**
 * The split and the decoders of the hot path were rewritten for speed: each is held here to
 * the plain definition it replaced, on hostile text as much as on tokens.
 */
const RUNS = { numRuns: 3000 };

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const segment = fc.string({ unit: fc.constantFrom(...B64.split('')), maxLength: 90 });

/** Tokens, nearly tokens, and text with the characters a split can trip on. */
const tokenish = fc.oneof(
  fc.tuple(segment, segment, segment).map(([h, p, s]) => `${h}.${p}.${s}`),
  fc.tuple(segment, segment, segment, fc.constantFrom('.', ',', ', ', '+', '/', '=', ' ', '\n', 'é', '\u0141', '\uD800', '..')).chain(([h, p, s, odd]) =>
    fc.nat(h.length + p.length + s.length + 2).map((at) => {
      const text = `${h}.${p}.${s}`;
      return `${text.slice(0, at)}${odd}${text.slice(at)}`;
    }),
  ),
  fc.string({ unit: fc.constantFrom(...`${B64}.,=+/ `.split('')), maxLength: 120 }),
  fc.string({ maxLength: 60 }),
);

/** The split as first written: one regular expression with capture groups, then Node's decoder. */
function referenceSplit(text: string) {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)$/.exec(text);
  if (!m) return undefined;
  if (m[1]!.length % 4 === 1 || m[2]!.length % 4 === 1 || m[3]!.length % 4 === 1) return undefined;
  return {
    headerSegment: m[1],
    payloadSegment: m[2],
    signingInput: text.slice(0, m[1]!.length + 1 + m[2]!.length),
    signature: Buffer.from(m[3]!, 'base64url'),
  };
}

describe('splitCompact', () => {
  it('splits exactly what the three-segment pattern accepts, into the same parts', () => {
    fc.assert(
      fc.property(tokenish, (text) => {
        expect(splitCompact(text)).toStrictEqual(referenceSplit(text));
      }),
      RUNS,
    );
  });
});

describe('decodeBase64urlSegment', () => {
  it('decodes valid base64url as Node does, unused trailing bits included, from any offset', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), segment, (before, text) => {
        const expected = text.length % 4 === 1 ? undefined : Buffer.from(text, 'base64url');
        expect(decodeBase64urlSegment(`${before}${text}`, before.length)).toStrictEqual(expected);
      }),
      RUNS,
    );
  });

  it('refuses any character outside the alphabet, where Node would skip it or read base64', () => {
    fc.assert(
      fc.property(segment, fc.constantFrom('+', '/', '=', '.', ' ', '\n', '\0', 'é', '\u0141', '\uDC00', '\u{1F600}'), fc.nat(), (text, odd, at) => {
        const i = at % (text.length + 1);
        expect(decodeBase64urlSegment(`${text.slice(0, i)}${odd}${text.slice(i)}`)).toBeUndefined();
      }),
      RUNS,
    );
  });
});

describe('decodeJsonSegment', () => {
  it('reads a segment only when its bytes are valid UTF-8 (the replacement-character shortcut is sound)', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      // near-valid UTF-8: overlong forms, surrogates, truncated sequences, a literal U+FFFD
      fc
        .array(fc.constantFrom([0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbf, 0xbd], [0xc3, 0xa9], [0x61]), {
          maxLength: 6,
        })
        .map((parts) => Uint8Array.from(parts.flat())),
    );
    fc.assert(
      fc.property(bytes, (raw) => {
        // a JSON object whose string member holds the bytes
        const json = Buffer.concat([Buffer.from('{"s":"'), Buffer.from(raw.filter((b) => b !== 0x22 && b !== 0x5c && b >= 0x20)), Buffer.from('"}')]);
        const decoded = decodeJsonSegment(json.toString('base64url'));
        if (!isUtf8(json)) expect(decoded).toBeUndefined();
        else expect(decoded).toStrictEqual(JSON.parse(json.toString('utf8')));
        // the premise itself: text without U+FFFD came from valid UTF-8
        if (!json.toString('utf8').includes('\uFFFD')) expect(isUtf8(json)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('payloadMember (what glue reads of a stamp the verifier has accepted)', () => {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it("is the payload's own member, as decodeJsonSegment reads the payload, and what payloadDeclares says is there", () => {
    const member = fc.constantFrom('htu', 'cdg', 'ip', '__proto__', 'constructor', 'toString');
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('htu', 'cdg', 'ip', 'jti'), fc.jsonValue({ maxDepth: 2 })), member, (claims, name) => {
        const token = `${json({ alg: 'HS256' })}.${json(claims)}.c2ln`;
        const expected = Object.hasOwn(claims, name) ? decodeJsonSegment(json(claims))![name] : undefined;
        expect(nodeCompactCodec.payloadMember(token, name)).toEqual(expected);
        expect(webCompactCodec.payloadMember(token, name)).toEqual(expected);
        expect(nodeCompactCodec.payloadDeclares(token, name)).toBe(Object.hasOwn(claims, name));
      }),
      RUNS,
    );
  });

  it('never throws, and reads nothing of what the split or the strict decoder refuses', () => {
    fc.assert(
      fc.property(tokenish, (text) => {
        const parts = splitCompact(text);
        const claims = parts && decodeJsonSegment(parts.payloadSegment);
        for (const name of ['htu', 'cdg']) {
          expect(nodeCompactCodec.payloadMember(text, name)).toEqual(claims !== undefined && Object.hasOwn(claims, name) ? claims[name] : undefined);
        }
      }),
      RUNS,
    );
  });
});

describe('the web codec (web-bytes.ts: TextEncoder, a strict TextDecoder) reads exactly what the Node codec reads', () => {
  /** Bytes as plain arrays, so a Buffer and a Uint8Array of the same bytes compare equal. */
  const plain = (value: unknown): unknown =>
    value instanceof Uint8Array
      ? Array.from(value)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
        : value;

  it('splits and decodes hostile text alike', () => {
    fc.assert(
      fc.property(tokenish, (text) => {
        expect(plain(webCompactCodec.splitCompact(text))).toStrictEqual(plain(splitCompact(text)));
        expect(plain(webCompactCodec.decodeBase64urlSegment(text))).toStrictEqual(plain(decodeBase64urlSegment(text)));
      }),
      RUNS,
    );
  });

  it('refuses invalid UTF-8 and a byte-order mark as the Node codec does, never repairing or dropping them', () => {
    const BOM = [0xef, 0xbb, 0xbf];
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc
        .array(fc.constantFrom([0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbf, 0xbd], BOM, [0xc3, 0xa9], [0x61]), {
          maxLength: 6,
        })
        .map((parts) => Uint8Array.from(parts.flat())),
    );
    fc.assert(
      fc.property(bytes, fc.boolean(), (raw, leadingBom) => {
        const inner = Buffer.from(raw.filter((b) => b !== 0x22 && b !== 0x5c && b >= 0x20));
        const json = Buffer.concat([Buffer.from(leadingBom ? BOM : []), Buffer.from('{"s":"'), inner, Buffer.from('"}')]);
        const segment = json.toString('base64url');
        expect(webCompactCodec.decodeJsonSegment(segment)).toStrictEqual(decodeJsonSegment(segment));
        if (leadingBom || !isUtf8(json)) expect(webCompactCodec.decodeJsonSegment(segment)).toBeUndefined();
      }),
      RUNS,
    );
  });
});
