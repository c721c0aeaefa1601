/** base64url without padding (RFC 7515 §2), on Uint8Array only: this file runs in browsers. */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** How many bytes `text` decodes to, if it is base64url (unpadded: three bytes per four characters, rounded down). */
export function base64urlDecodedLength(text: string): number {
  return Math.floor((text.length * 3) / 4);
}

/** True when every character is in the base64url alphabet and the length can be decoded. */
export function isBase64url(text: string): boolean {
  if (text.length % 4 === 1) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || LOOKUP[c]! < 0) return false;
  }
  return true;
}

export function encodeBase64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Decodes base64url; undefined for anything outside the alphabet. Unused trailing bits are
 * ignored, as every decoder in practice does — which is why a stamp is never identified by
 * its text (PROTOCOL.md §5 step 10 keys on kid and jti).
 */
export function decodeBase64url(text: string): Uint8Array | undefined {
  if (!isBase64url(text)) return undefined;
  const out = new Uint8Array(base64urlDecodedLength(text));
  let o = 0;
  let i = 0;
  for (; i + 3 < text.length; i += 4) {
    const n =
      (LOOKUP[text.charCodeAt(i)]! << 18) | (LOOKUP[text.charCodeAt(i + 1)]! << 12) | (LOOKUP[text.charCodeAt(i + 2)]! << 6) | LOOKUP[text.charCodeAt(i + 3)]!;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const rest = text.length - i;
  if (rest >= 2) {
    const n = (LOOKUP[text.charCodeAt(i)]! << 18) | (LOOKUP[text.charCodeAt(i + 1)]! << 12) | (rest === 3 ? LOOKUP[text.charCodeAt(i + 2)]! << 6 : 0);
    out[o++] = n >> 16;
    if (rest === 3) out[o++] = (n >> 8) & 255;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** base64url → UTF-8 text; undefined when either layer is invalid. */
export function decodeBase64urlText(text: string): string | undefined {
  const bytes = decodeBase64url(text);
  if (!bytes) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function encodeBase64urlText(text: string): string {
  return encodeBase64url(new TextEncoder().encode(text));
}
