import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStrictJsonObject } from '../../shared/strict-json.js';

/**
 * parseStrictJsonObject answers most stamps by counting commas and falls back to a full scan:
 * on JSON texts built from a model whose repeated names are known, it must refuse exactly the
 * texts with a repeat at any depth, and otherwise return what JSON.parse returns.
 */
const RUNS = { numRuns: 2000 };

type Model = { object: [string, Model][] } | { array: Model[] } | { leaf: string | number | boolean | null };

const names = fc.constantFrom('a', 'b', 'ab', 'ip', 'jti', '__proto__', '', ',', 'a,b', '"', '\\', ':', '{', 'é', '\u2028');
const leaves = fc.oneof(
  fc.constantFrom('x', 'a,b', ',,,', '{"a":1}', '"', '\\', ''),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const model: fc.Arbitrary<Model> = fc.letrec<{ node: Model }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaves.map((leaf) => ({ leaf })),
    fc.array(fc.tuple(names, tie('node')), { maxLength: 5 }).map((object) => ({ object })),
    fc.array(tie('node'), { maxLength: 3 }).map((array) => ({ array })),
  ),
})).node;
const topObject = fc.array(fc.tuple(names, model), { maxLength: 7 }).map((object): Model => ({ object }));

function repeats(m: Model): boolean {
  if ('leaf' in m) return false;
  if ('array' in m) return m.array.some(repeats);
  const seen = new Set(m.object.map(([name]) => name));
  return seen.size < m.object.length || m.object.some(([, v]) => repeats(v));
}

/** JSON text of a model, with chosen whitespace and names spelled with or without \u escapes. */
function spell(m: Model, choices: () => number): string {
  const ws = (): string => [' ', '', '', '\n', '\t', '\r\n '][choices() % 6]!;
  const name = (n: string): string =>
    choices() % 3 === 0 ? `"${[...n].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(n);
  if ('leaf' in m) return JSON.stringify(m.leaf);
  if ('array' in m) return `[${ws()}${m.array.map((v) => spell(v, choices)).join(`${ws()},${ws()}`)}${ws()}]`;
  return `{${ws()}${m.object.map(([n, v]) => `${name(n)}${ws()}:${ws()}${spell(v, choices)}`).join(`${ws()},${ws()}`)}${ws()}}`;
}

const spelledObject = fc.tuple(topObject, fc.array(fc.nat(), { minLength: 64, maxLength: 64 })).map(([m, numbers]) => {
  let i = 0;
  return { m, text: spell(m, () => numbers[i++ % numbers.length]!) };
});

describe('parseStrictJsonObject refuses exactly the objects that repeat a member name', () => {
  it('on texts spelled from a model with known repeats, at any depth', () => {
    fc.assert(
      fc.property(spelledObject, ({ m, text }) => {
        const parsed = parseStrictJsonObject(text);
        if (repeats(m)) expect(parsed).toBeUndefined();
        else expect(parsed).toStrictEqual(JSON.parse(text));
      }),
      RUNS,
    );
  });

  it('on anything at all: never throws, and returns only objects JSON.parse agrees with', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const parsed = parseStrictJsonObject(text);
          if (parsed === undefined) return;
          expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
          expect(parsed).toStrictEqual(JSON.parse(text));
        },
      ),
      RUNS,
    );
  });

  it('stamps as clients write them are read in full', () => {
    const claims = { ip: '192.0.2.7', iat: 1700000000, jti: 'a'.repeat(22), htm: 'GET', htu: 'https://api.example.com/a,b' };
    expect(parseStrictJsonObject(JSON.stringify(claims))).toStrictEqual(claims);
    expect(parseStrictJsonObject('{"ip":"1.2.3.4","ip":"1.2.3.4"}')).toBeUndefined();
    expect(parseStrictJsonObject('{"a":{"b":1,"b":2}}')).toBeUndefined();
    expect(parseStrictJsonObject('{"a":[{"b":1,"\\u0062":2}]}')).toBeUndefined();
  });
});
