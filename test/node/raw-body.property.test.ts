import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rawBodyOf, rawBodyVerify, stampDeclaresBodyDigest } from '../../server/node/raw-body.js';

const requestWith = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const identity = fc.constantFrom(undefined, '', 'identity', 'IDENTITY', ' Identity ');
const otherEncoding = fc.string({ minLength: 1, maxLength: 20 }).filter((e) => !['', 'identity'].includes(e.trim().toLowerCase()));

describe('rawBodyVerify / rawBodyOf (properties)', () => {
  it('identity (or no) Content-Encoding: the bytes handed over are the bytes hashed, unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), identity, (bytes, encoding) => {
        const req = requestWith({ 'content-length': String(bytes.length), ...(encoding === undefined ? {} : { 'content-encoding': encoding }) });
        rawBodyVerify(req, undefined, bytes);
        expect(rawBodyOf(req)).toBe(bytes);
      }),
    );
  });

  it('any other Content-Encoding: the (decoded) bytes are never vouched for', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), otherEncoding, (bytes, encoding) => {
        const req = requestWith({ 'content-length': '10', 'content-encoding': encoding });
        rawBodyVerify(req, undefined, bytes);
        expect(rawBodyOf(req)).toBeUndefined();
      }),
    );
  });

  it('nothing recorded: empty for a request without a body, unknown for one with a body', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.boolean(), (length, chunked) => {
        expect(rawBodyOf(requestWith(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(length) }))).toBeUndefined();
      }),
    );
    expect(rawBodyOf(requestWith({}))).toEqual(new Uint8Array(0));
    expect(rawBodyOf(requestWith({ 'content-length': '0' }))).toEqual(new Uint8Array(0));
  });

  it('HTTP/2 (no framing headers needed): empty when the stream ended with its headers or declared content-length 0, else unknown', () => {
    const h2 = (headers: Record<string, string>, endAfterHeaders: boolean) =>
      ({ headers, httpVersionMajor: 2, stream: { endAfterHeaders } }) as unknown as IncomingMessage;
    expect(rawBodyOf(h2({}, true))).toEqual(new Uint8Array(0));
    expect(rawBodyOf(h2({ 'content-length': '0' }, false))).toEqual(new Uint8Array(0));
    // DATA frames may follow without any content-length: bytes nobody read, never an empty body
    expect(rawBodyOf(h2({}, false))).toBeUndefined();
    expect(rawBodyOf(h2({ 'content-length': '5' }, false))).toBeUndefined();
  });

  it('stampDeclaresBodyDigest never throws, and is true only for a payload with a cdg member', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => void stampDeclaresBodyDigest(text)));
    const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), (claims) => {
        const token = `${segment({ alg: 'HS256' })}.${segment(claims)}.sig`;
        expect(stampDeclaresBodyDigest(token)).toBe(Object.hasOwn(claims, 'cdg'));
      }),
    );
  });
});
