import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isConfinedRequestTarget, upstreamPath } from '../../server/cli/upstream-target.js';

/**
 * `--upstream http://u/api` is a boundary: the gateway forwards no request target that an
 * upstream could resolve to a path outside `/api` — whichever of `%2e`, `%2f`, `%5c` (encoded
 * once or more: `%252e`), `\` and `;` it decodes or honours before resolving dot-segments — and
 * it never rewrites one.
 */

/** Ways to write `/` that some upstream reads as one. */
const SEPARATORS = ['/', '%2f', '%2F', '%5c', '%5C', '\\', '%252f', '%255C', '%25252F'];
/** Ways to write `.` that some upstream reads as one. */
const DOT = fc.constantFrom('.', '%2e', '%2E', '%252e', '%252E', '%25252e');
/** A `.` or `..` segment in any of those spellings, with Tomcat-style path parameters at will. */
const dotSegment = fc
  .tuple(fc.array(DOT, { minLength: 1, maxLength: 2 }), fc.option(fc.stringMatching(/^[a-z0-9=]{0,4}$/), { nil: undefined }))
  .map(([dots, parameters]) => dots.join('') + (parameters === undefined ? '' : `;${parameters}`));

/** Characters of a plain path segment (RFC 3986 pchar, without `%`, `;` and `\`). */
const PLAIN = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,=:@"];
/** A plain segment, possibly empty, with percent-escapes other than a dot or a slash; never only dots. */
const plainSegment = fc
  .array(fc.oneof(fc.constantFrom(...PLAIN), fc.constantFrom('%20', '%41', '%2d', '%3A', '%25')), { maxLength: 8 })
  .map((cs) => cs.join(''))
  .filter((s) => !/^\.+$/.test(s) && !/%(?:25)*(?:2e|2f|5c)/i.test(s));
const query = fc.option(
  fc.array(fc.constantFrom(...PLAIN, '/', '?', '%2e', '..', '\\'), { maxLength: 10 }).map((cs) => `?${cs.join('')}`),
  { nil: '' },
);

/**
 * What an upstream that decodes `%2e`, `%2f`, `%5c`, reads `\` as `/` and `;` as the start of
 * path parameters makes of a path, then RFC 3986 §5.2.4 dot-segment removal: the segments it
 * ends up serving. Written here, not imported.
 */
function resolvedSegments(path: string): string[] {
  const decoded = path.replace(/%(?:25)*2e/gi, '.').replace(/%(?:25)*(?:2f|5c)|\\/gi, '/');
  const out: string[] = [];
  for (const segment of decoded.split('/').slice(1)) {
    const name = segment.split(';')[0]!;
    if (name === '.') continue;
    if (name === '..') out.pop();
    else out.push(segment);
  }
  return out;
}

describe('isConfinedRequestTarget (property)', () => {
  it('refuses every target that has a dot-segment in any spelling, wherever it stands', () => {
    fc.assert(
      fc.property(
        fc.array(plainSegment, { maxLength: 4 }),
        dotSegment,
        fc.array(fc.oneof(plainSegment, dotSegment), { maxLength: 4 }),
        fc.array(fc.constantFrom(...SEPARATORS), { minLength: 10, maxLength: 10 }),
        query,
        (before, dots, after, separators, q) => {
          const segments = [...before, dots, ...after];
          // the first separator is the target's leading `/`, as origin-form needs
          const path = segments.map((segment, i) => (i === 0 ? '/' : separators[i % separators.length]!) + segment).join('');
          expect(isConfinedRequestTarget(path + q)).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts a target of plain segments, and upstreamPath keeps it under the base whoever decodes it', () => {
    fc.assert(
      fc.property(fc.constantFrom('', '/api', '/v1/api'), fc.array(plainSegment, { minLength: 1, maxLength: 6 }), query, (basePath, segments, q) => {
        const target = `/${segments.join('/')}${q}`;
        expect(isConfinedRequestTarget(target)).toBe(true);
        const forwarded = upstreamPath({ origin: 'http://u', basePath }, target);
        // kept byte for byte, after the base
        expect(forwarded).toBe(basePath + target);
        const path = forwarded.split('?')[0]!;
        const base = basePath.split('/').slice(1);
        expect(resolvedSegments(path).slice(0, base.length)).toEqual(base);
        // and as WHATWG URL resolves it (`\` and `%2e` included)
        expect(new URL(`http://u${forwarded}`).pathname.startsWith(`${basePath}/`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses whatever is not origin-form: absolute-form, authority-form, *, empty', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[^/][ -~]*$/), (target) => {
        expect(isConfinedRequestTarget(target)).toBe(false);
      }),
    );
  });
});

describe('isConfinedRequestTarget', () => {
  it.each([
    '/../admin',
    '/x/../../admin',
    '/%2e%2e/admin',
    '/%2E./admin',
    '/..%2fadmin',
    '/%2F..%2Fadmin',
    '/..%5cadmin',
    '/..\\admin',
    '/a/..;/admin',
    '/%252e%252e/admin',
    '/..%252fadmin',
    '/%25252E%25252E%255Cadmin',
    '/a/.;x/b',
    '/a/.',
    '/a/..',
    '/./a',
    '/x#/../admin',
    '*',
    'http://other.example/x',
    'other.example:443',
    '',
  ])('refuses %j', (target) => {
    expect(isConfinedRequestTarget(target)).toBe(false);
  });

  it.each([
    '/',
    '/x?q=1',
    '/a.b/c.d',
    '/.well-known/ipstamp',
    '/...',
    '/a..b',
    '/..a',
    '/a;../b',
    '/x?next=/../admin',
    '/x?%2e%2e',
    '//double',
    '/%2e%2e%2e',
    '/100%25/a',
    '/%25/x',
  ])('accepts %j', (target) => {
    expect(isConfinedRequestTarget(target)).toBe(true);
  });
});
