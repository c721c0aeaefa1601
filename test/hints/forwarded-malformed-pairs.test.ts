import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forwardedForOf, forwardedProtoOf, parseForwarded } from '../../server/hints/forwarded.js';

const U = undefined;

/**
 * PROTOCOL §4.3.1: an element is an invalid entry when it is malformed — "a name that is not a
 * token, a bad quoted string, a parameter given twice" — and that holds for every pair of the
 * element, extension parameters included, not only for `for=` itself.
 */
describe('Forwarded: a malformed pair anywhere makes the element invalid', () => {
  it.each([
    ['for=192.0.2.1;ext=1;ext=2', 'an extension parameter given twice'],
    ['for=192.0.2.1;Ext=1;eXT=2', 'an extension parameter given twice, names case-insensitive'],
    ['ext=a;for=192.0.2.1;ext=b', 'an extension parameter given twice around for'],
    ['for=192.0.2.1;b@d=1', 'a name that is not a token'],
    ['b(d=1;for=192.0.2.1', 'a name that is not a token, before for'],
    ['for=192.0.2.1;by=a/b', 'an unquoted value that is not a token'],
    ['for=192.0.2.1;host=a{b}', 'an unquoted value that is not a token'],
    ['for=192.0.2.1;proto=ht\\tp', 'a backslash outside a quoted string'],
    ['for=192.0.2.1;by="a\x7fb"', 'DEL inside a quoted string'],
    ['for=192.0.2.1;by="a\\\x01"', 'a quoted-pair escaping a control character'],
    ['for=192.0.2.1;by="a\\\x7f"', 'a quoted-pair escaping DEL'],
  ])('%j (%s) → invalid', (element) => {
    expect(forwardedForOf(element)).toBe(U);
  });

  it('the same rules decide proto= (scheme evidence, §5.1)', () => {
    expect(forwardedProtoOf('proto=https;x=1;x=2')).toBe(U);
    expect(forwardedProtoOf('proto=https;a@b=1')).toBe(U);
    expect(forwardedProtoOf('proto=https;by=a/b')).toBe(U);
    expect(forwardedProtoOf('proto=https;x=1;y=2')).toBe('https');
  });

  it('distinct extension parameters and quoted values stay valid', () => {
    expect(forwardedForOf('for=192.0.2.1;ext=1;other=2')).toBe('192.0.2.1');
    expect(forwardedForOf('for=192.0.2.1;by="a/b"')).toBe('192.0.2.1');
    // qdtext and quoted-pair take HTAB, SP, VCHAR and obs-text
    expect(forwardedForOf('for=192.0.2.1;by="a\tb"')).toBe('192.0.2.1');
    expect(forwardedForOf('for=192.0.2.1;by="a\\\tb\\ \\\u00e9"')).toBe('192.0.2.1');
    expect(parseForwarded(['for=192.0.2.1;x=1;x=2, for=198.51.100.7'])).toEqual([U, '198.51.100.7']);
  });

  const tchar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~");
  const extName = fc.string({ unit: tchar, minLength: 1, maxLength: 8 }).filter((n) => !['for', 'by', 'host', 'proto'].includes(n.toLowerCase()));
  const separator = fc.constantFrom(...'()/<>@?={}'.split(''));

  it('property: one defect injected into an otherwise valid element always makes it invalid', () => {
    fc.assert(
      fc.property(extName, fc.string({ unit: tchar, minLength: 1, maxLength: 6 }), separator, fc.integer({ min: 0, max: 2 }), (name, value, bad, kind) => {
        const good = `for=192.0.2.1;${name}=${value}`;
        expect(forwardedForOf(good)).toBe('192.0.2.1');
        const broken =
          kind === 0
            ? `${good};${name.toUpperCase()}=${value}` // the extension parameter twice
            : kind === 1
              ? `for=192.0.2.1;${name}${bad}=${value}` // a name that is not a token
              : `for=192.0.2.1;${name}=${value}${bad}x`; // a value that is not a token
        expect(forwardedForOf(broken)).toBe(U);
      }),
      { numRuns: 300 },
    );
  });
});
