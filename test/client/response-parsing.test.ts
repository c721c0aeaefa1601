import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBoundedText } from '../../client/bounded-body.js';
import { isIpMismatchProblem, mayBeIpMismatch } from '../../client/ip-mismatch.js';
import { stampedAddress } from '../../client/request-stamper.js';
import { encodeBase64url } from '../../shared/base64url.js';

describe('ip-mismatch detection', () => {
  it('only a 403 problem+json is looked at', () => {
    expect(mayBeIpMismatch(403, 'application/problem+json')).toBe(true);
    expect(mayBeIpMismatch(403, 'Application/Problem+JSON; charset=utf-8')).toBe(true);
    expect(mayBeIpMismatch(401, 'application/problem+json')).toBe(false);
    expect(mayBeIpMismatch(403, 'application/json')).toBe(false);
    expect(mayBeIpMismatch(403, undefined)).toBe(false);
  });

  it('reads the reason; other reasons, duplicates and garbage are not a mismatch', () => {
    expect(isIpMismatchProblem('{"type":"urn:ipstamp:ip-mismatch","status":403,"reason":"ip-mismatch"}')).toBe(true);
    expect(isIpMismatchProblem('{"reason":"ip-not-allowed"}')).toBe(false);
    expect(isIpMismatchProblem('{"reason":"ip-mismatch","reason":"x"}')).toBe(false);
    expect(isIpMismatchProblem(undefined)).toBe(false);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string(), (text) => typeof isIpMismatchProblem(text) === 'boolean'));
    fc.assert(fc.property(fc.json(), (text) => typeof isIpMismatchProblem(text) === 'boolean'));
  });
});

describe('stampedAddress', () => {
  it('reads the ip claim of a token', () => {
    const payload = encodeBase64url(new TextEncoder().encode('{"ip":"192.0.2.1","jti":"x"}'));
    expect(stampedAddress(`e30.${payload}.sig`)).toBe('192.0.2.1');
  });

  it('never throws, whatever the token', () => {
    fc.assert(
      fc.property(fc.string(), (token) => {
        const ip = stampedAddress(token);
        return ip === undefined || typeof ip === 'string';
      }),
    );
  });
});

describe('readBoundedText', () => {
  const streamOf = (chunks: Uint8Array[]) =>
    new ReadableStream<Uint8Array>({
      start: (c) => {
        chunks.forEach((x) => c.enqueue(x));
        c.close();
      },
    });

  it('returns the text up to the bound, undefined past it, for any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), fc.integer({ min: 0, max: 400 }), async (chunks, max) => {
        const ascii = chunks.map((c) => c.map((b) => 0x20 + (b % 90)));
        const total = ascii.reduce((n, c) => n + c.length, 0);
        const text = await readBoundedText(streamOf(ascii), max);
        if (total > max) expect(text).toBeUndefined();
        else expect(text).toBe(ascii.map((c) => new TextDecoder().decode(c)).join(''));
      }),
    );
  });

  it('a null body is the empty text', async () => {
    expect(await readBoundedText(null, 10)).toBe('');
  });
});
