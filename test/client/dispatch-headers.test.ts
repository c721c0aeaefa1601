import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { headerEntries, headerValue, withHeader } from '../../client/dispatch-headers.node.js';

const STAMP = 'client-ip-attestation';
const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,11}$/);
const value = fc.string({ maxLength: 12 });
const entries = fc.array(
  fc.tuple(
    fc.oneof(name, fc.constantFrom('Client-IP-Attestation', 'CLIENT-IP-ATTESTATION', STAMP)),
    fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 })),
  ),
  { maxLength: 8 },
);

type Entry = [string, string | string[]];
const shapes = {
  object: (e: Entry[]) => Object.fromEntries(e),
  flat: (e: Entry[]) => e.flatMap(([n, v]) => (Array.isArray(v) ? v.flatMap((x) => [n, x]) : [n, v])),
  pairs: (e: Entry[]) => e.map(([n, v]) => [n, v]) as unknown as string[],
  map: (e: Entry[]) => new Map(e),
};

/** name → values, as the server would receive them (names folded, arrays flattened). */
function received(headers: ReturnType<typeof withHeader>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [n, v] of headerEntries(headers)) {
    const list = out.get(n.toLowerCase()) ?? [];
    list.push(...(Array.isArray(v) ? v : v === undefined ? [] : [v]));
    out.set(n.toLowerCase(), list);
  }
  return out;
}

describe('withHeader (dispatch header shapes)', () => {
  for (const [shapeName, shape] of Object.entries(shapes)) {
    it(`${shapeName}: exactly one stamp, every other header kept, the input unchanged`, () => {
      fc.assert(
        fc.property(entries, fc.string({ minLength: 1, maxLength: 20 }), (list, token) => {
          const input = shape(list as Entry[]);
          const before = JSON.stringify(input instanceof Map ? [...input] : input);
          const output = withHeader(input, STAMP, token);
          expect(JSON.stringify(input instanceof Map ? [...input] : input)).toBe(before);
          expect(output).not.toBe(input);
          const got = received(output);
          expect(got.get(STAMP)).toEqual([token]);
          const expected = received(shape((list as Entry[]).filter(([n]) => n.toLowerCase() !== STAMP)));
          for (const [n, v] of expected) expect(got.get(n)).toEqual(v);
          expect(got.size).toBe(expected.size + 1);
        }),
      );
    });
  }

  it('null and undefined headers become just the stamp', () => {
    expect(withHeader(undefined, STAMP, 't')).toEqual({ [STAMP]: 't' });
    expect(withHeader(null, STAMP, 't')).toEqual({ [STAMP]: 't' });
  });

  it('an object stays an object (a retry handler outside spreads it)', () => {
    expect(withHeader({ a: '1' }, STAMP, 't')).toEqual({ a: '1', [STAMP]: 't' });
  });

  it('headerValue finds a header in any shape and case', () => {
    expect(headerValue({ Host: 'h' }, 'host')).toBe('h');
    expect(headerValue(['HOST', 'h'], 'host')).toBe('h');
    expect(headerValue([['host', ['h', 'i']]] as unknown as string[], 'host')).toBe('h');
    expect(headerValue(new Map([['x', 'y']]), 'host')).toBeUndefined();
  });
});
