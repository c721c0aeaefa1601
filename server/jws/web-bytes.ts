/**
 * The compact codec (compact-codec.ts) on web-standard bytes: TextEncoder and a strict
 * TextDecoder. No Buffer, no `node:` module — what ipstamp/web reads tokens with.
 */
import { createCompactCodec, type ByteOps } from './compact-codec.js';

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM stays in the text as Buffer
// keeps it (and strict JSON then refuses it), instead of being silently dropped
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

let scratch = new Uint8Array(4096);

export const webByteOps: ByteOps = {
  asciiBytesOf(text, start, end) {
    const length = end - start;
    if (length * 3 > scratch.length) scratch = new Uint8Array(length * 3);
    const { written } = encoder.encodeInto(start === 0 && end === text.length ? text : text.slice(start, end), scratch);
    return written === length ? scratch : undefined;
  },
  alloc: (length) => new Uint8Array(length),
  utf8(bytes) {
    try {
      return decoder.decode(bytes);
    } catch {
      return undefined;
    }
  },
};

export const webCompactCodec = createCompactCodec(webByteOps);

/** base64url without padding (RFC 7515 §2) of bytes. */
export function base64urlOf(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Latin-1 bytes of text (the JWS signing input is ASCII, checked before it gets here). */
export function latin1Bytes(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
