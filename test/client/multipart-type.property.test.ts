import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { multipartType } from '../../client/request-body.js';

/**
 * A runtime whose serialized FormData carries no Content-Type (Bun 1.4) has its boundary read
 * back from the form's first line (client/request-body.ts). Node's Response says the
 * Content-Type, so it is the reference: read from the bytes alone, the answer must be the same.
 * On any other bytes the reader answers null or a well-formed multipart type, never throws.
 */
const text = fc.string({ maxLength: 40 });
const field = fc.record({
  name: text,
  value: fc.oneof(
    text,
    fc.record({ content: fc.uint8Array({ maxLength: 64 }), filename: text, type: fc.constantFrom('', 'text/plain', 'application/octet-stream') }),
  ),
});

describe('multipartType', () => {
  it('reads from a serialized form the Content-Type Node gives it, empty forms included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(field, { maxLength: 5 }), async (fields) => {
        const form = new FormData();
        for (const { name, value } of fields) {
          if (typeof value === 'string') form.append(name, value);
          else form.append(name, new Blob([value.content], { type: value.type }), value.filename);
        }
        const serialized = new Response(form);
        const bytes = new Uint8Array(await serialized.arrayBuffer());
        expect(multipartType(bytes)).toBe(serialized.headers.get('content-type'));
      }),
      { numRuns: 100 },
    );
  });

  it('answers null or a multipart type with an RFC 2046 boundary for any bytes', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.string({ maxLength: 90 }), fc.constantFrom('', '\r\n', '--', '--\r\n')).map(([b, end]) => new TextEncoder().encode(`--${b}${end}`)),
    );
    fc.assert(
      fc.property(bytes, (input) => {
        const type = multipartType(input);
        if (type !== null) expect(type).toMatch(/^multipart\/form-data; boundary=[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]$/);
      }),
      { numRuns: 500 },
    );
    expect(multipartType(new TextEncoder().encode('not a form'))).toBeNull();
    expect(multipartType(new TextEncoder().encode('--a b \r\n'))).toBeNull(); // ends in a space
  });
});
