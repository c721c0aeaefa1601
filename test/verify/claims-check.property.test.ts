import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesStampClaims, parseStampClaims, stampClaimsSchema } from '../../shared/schema.js';

/**
 * The verifier reads claims through matchesStampClaims, a compiled twin of stampClaimsSchema.
 * The schema is the definition: on every input the twin must give the schema's answer.
 */
const RUNS = { numRuns: 3000 };

const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64String = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...b64.split('')), minLength: min, maxLength: max });
const long = 'a'.repeat(2049);

/** Anything JSON can hold, small. */
const anyJson = fc.jsonValue({ maxDepth: 2 });

/** Right, nearly right, and wrong values for each claim: the edges are where a twin would drift. */
const CLAIMS: Record<string, fc.Arbitrary<unknown>> = {
  ip: fc.oneof(
    fc.constantFrom(
      '192.0.2.7',
      '2001:db8::1',
      '::ffff:192.0.2.7',
      '010.0.0.1',
      '0.0.0.0',
      '::',
      '2001:DB8::1',
      '2001:db8:0:0:0:0:0:1',
      '1.2.3',
      '1.2.3.4 ',
      '',
    ),
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV4Extended(),
    fc.constant(`1.2.3.4${long}`),
    anyJson,
  ),
  iat: fc.oneof(
    fc.constantFrom(0, -0, 1, -1, 1.5, 1700000000, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e21, '1700000000'),
    fc.integer(),
    fc.double(),
    anyJson,
  ),
  exp: fc.oneof(fc.constantFrom(0, -0, -1, 2.5, Number.MAX_SAFE_INTEGER, 2 ** 53, '5'), fc.integer(), fc.double(), anyJson),
  jti: fc.oneof(
    b64String(20, 66),
    fc.constantFrom('a'.repeat(21), 'a'.repeat(22), 'a'.repeat(64), 'a'.repeat(65), `${'a'.repeat(22)}=`, `${'a'.repeat(22)}.`),
    fc.string(),
    anyJson,
  ),
  htm: fc.oneof(
    fc.constantFrom('GET', 'POST', 'get', '', 'G ET', "!#$%&'*+.^_`|~-", 'GET\n', long, 'A'.repeat(2048), 'A'.repeat(2049)),
    fc.string({ maxLength: 8 }),
    anyJson,
  ),
  htu: fc.oneof(
    fc.constantFrom(
      'https://api.example.com/orders',
      'http://a/',
      'http://a',
      'https://a/b?c',
      'https://a/b#c',
      'ftp://a/',
      'https://a b/',
      'https://a/b c',
      'HTTPS://a/',
      `https://a/${long}`,
    ),
    fc.webUrl(),
    fc.string({ maxLength: 20 }),
    anyJson,
  ),
  obs: fc.oneof(fc.constantFrom('static', 'socket', 'echo', 'ticket', 'Static', ''), anyJson),
  cdg: fc.oneof(b64String(42, 44), fc.constant(`${'a'.repeat(42)}+`), anyJson),
  tth: fc.oneof(b64String(42, 44), anyJson),
};

/** A claims object as JSON.parse makes it: some claims left out, some unknown members added. */
const claimsObject = fc
  .record(Object.fromEntries(Object.entries(CLAIMS).map(([name, arb]) => [name, fc.option(arb, { nil: undefined, freq: 4 })])), { requiredKeys: [] })
  .chain((claims) =>
    fc.dictionary(fc.constantFrom('x', 'nonce', '__proto__', 'constructor', 'ip2'), anyJson, { maxKeys: 2 }).map((extra) => {
      const entries = [...Object.entries(claims).filter(([, v]) => v !== undefined), ...Object.entries(extra)];
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
    }),
  )
  .map((text) => JSON.parse(text) as unknown);

/** Mostly valid claims with one member changed: most inputs a verifier sees are near the line. */
const VALID = { ip: '192.0.2.7', iat: 1700000000, jti: 'a'.repeat(22), htm: 'GET', htu: 'https://api.example.com/orders' };
const nearlyValid = fc
  .constantFrom(...Object.keys(CLAIMS))
  .chain((name) => fc.tuple(fc.constant(name), CLAIMS[name]!))
  .map(([name, value]) => JSON.parse(JSON.stringify({ ...VALID, [name]: value })) as unknown);

function expectSameAnswer(value: unknown): void {
  const zod = stampClaimsSchema.safeParse(value);
  expect(matchesStampClaims(value)).toBe(zod.success);
  const parsed = parseStampClaims(value);
  if (!zod.success) {
    expect(parsed).toBeUndefined();
    return;
  }
  expect(parsed).toBeDefined();
  for (const name of Object.keys(CLAIMS)) expect((parsed as Record<string, unknown>)[name]).toStrictEqual((zod.data as Record<string, unknown>)[name]);
}

describe('the compiled claims check agrees with stampClaimsSchema on every input', () => {
  it('on claims objects as JSON.parse returns them', () => {
    fc.assert(fc.property(claimsObject, expectSameAnswer), RUNS);
  });

  it('on valid claims with one member changed', () => {
    fc.assert(fc.property(nearlyValid, expectSameAnswer), RUNS);
  });

  it('on values that are not claims objects, and objects JSON cannot spell', () => {
    fc.assert(fc.property(anyJson, expectSameAnswer), { numRuns: 500 });
    for (const value of [
      null,
      undefined,
      [],
      [VALID],
      'x',
      1,
      { ...VALID, iat: Infinity },
      { ...VALID, iat: NaN },
      { ...VALID, exp: undefined },
      { ...VALID, obs: undefined },
    ]) {
      expectSameAnswer(value);
    }
  });

  it('accepts the claims a client writes', () => {
    expect(matchesStampClaims({ ...VALID, exp: 1700000030, obs: 'echo', cdg: 'a'.repeat(43), extra: [1] })).toBe(true);
  });
});
