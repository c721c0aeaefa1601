import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJsonSegment, nodeCompactCodec } from '../../server/jws/compact.js';
import { createHeaderDecoder, readStamp } from '../../server/verify/stamp-reader.js';
import { stampHeaderSchema } from '../../shared/schema.js';

/**
 * The verifier reads a stamp with readStamp (alphabet checked by decoding, headers seen before
 * not checked again). Over sequences of tokens sharing one header cache, it must give what the
 * plain steps give: the three-segment pattern (malformed), then the header schema (bad-header).
 */
const RUNS = { numRuns: 1500 };
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64 = (text: string) => Buffer.from(text).toString('base64url');

function reference(token: string) {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)$/.exec(token);
  if (!m || m[1]!.length % 4 === 1 || m[2]!.length % 4 === 1 || m[3]!.length % 4 === 1) return 'malformed';
  const json = decodeJsonSegment(m[1]!);
  const parsed = json && stampHeaderSchema.safeParse(json);
  if (!parsed?.success) return 'bad-header';
  return {
    header: parsed.data,
    signingInput: `${m[1]}.${m[2]}`,
    signature: Buffer.from(m[3]!, 'base64url'),
    payload: Buffer.from(m[2]!, 'base64url'),
  };
}

const headers = fc.constantFrom(
  b64('{"alg":"HS256","typ":"ipstamp+jwt","kid":"a"}'),
  b64('{"alg":"ES256","typ":"ipstamp+jwt","kid":"b.c"}'),
  b64('{"alg":"none","typ":"ipstamp+jwt","kid":"a"}'),
  b64('{"alg":"HS256","typ":"ipstamp+jwt","kid":"a","jku":"x"}'),
  b64('{"alg":"HS256","alg":"HS256","typ":"ipstamp+jwt","kid":"a"}'),
  b64('[1]'),
  'e30',
  'A',
  '',
);
const segment = fc.string({ unit: fc.constantFrom(...B64.split('')), maxLength: 60 });
const odd = fc.constantFrom('.', ',', ', ', '+', '/', '=', ' ', 'é', '\u0141', '\uD800');

/** Stamps with valid and invalid headers, and every way of breaking a segment. */
const token = fc.oneof(
  fc.tuple(headers, segment, segment).map(([h, p, s]) => `${h}.${p}.${s}`),
  fc.tuple(headers, segment, segment, odd, fc.nat(200)).map(([h, p, s, o, at]) => {
    const text = `${h}.${p}.${s}`;
    const i = at % (text.length + 1);
    return `${text.slice(0, i)}${o}${text.slice(i)}`;
  }),
  fc.string({ unit: fc.constantFrom(...`${B64}.,=`.split('')), maxLength: 80 }),
);

describe('readStamp', () => {
  it('answers as the three-segment pattern and the header schema do, across a shared header cache', () => {
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), (tokens) => {
        const decodeHeader = createHeaderDecoder(nodeCompactCodec);
        for (const t of tokens) expect(readStamp(t, decodeHeader, nodeCompactCodec)).toStrictEqual(reference(t));
      }),
      RUNS,
    );
  });

  it('a header that is not base64url is malformed even right after the same text was read as a valid header', () => {
    const decodeHeader = createHeaderDecoder(nodeCompactCodec);
    const h = b64('{"alg":"HS256","typ":"ipstamp+jwt","kid":"a"}');
    expect(typeof readStamp(`${h}.e30.AAAA`, decodeHeader, nodeCompactCodec)).toBe('object');
    expect(readStamp(`${h}+.e30.AAAA`, decodeHeader, nodeCompactCodec)).toBe('malformed');
    expect(readStamp(`${h}.e3+0.AAAA`, decodeHeader, nodeCompactCodec)).toBe('malformed');
    expect(readStamp(`${h}.e30.AAAA.`, decodeHeader, nodeCompactCodec)).toBe('malformed');
  });
});

describe('createHeaderDecoder', () => {
  it('remembers at most 1024 header segments: hostile variety costs a re-parse, never memory', () => {
    let parses = 0;
    const codec = { ...nodeCompactCodec, decodeJsonSegment: (s: string) => (parses++, nodeCompactCodec.decodeJsonSegment(s)) };
    const decodeHeader = createHeaderDecoder(codec);
    const segmentOf = (i: number) => b64(`{"alg":"HS256","typ":"ipstamp+jwt","kid":"k${i}"}`);
    const first = segmentOf(0);
    decodeHeader(first);
    decodeHeader(segmentOf(1));
    expect(decodeHeader(first)).toMatchObject({ kid: 'k0' });
    expect(parses).toBe(2); // remembered while there is room
    for (let i = 1; i <= 1024; i++) decodeHeader(segmentOf(i));
    parses = 0;
    expect(decodeHeader(first)).toMatchObject({ kid: 'k0' });
    expect(parses).toBe(1); // forgotten once 1024 others came through
  });
});
