import { encodeBase64url } from '../shared/base64url.js';

export type BodyInput = Uint8Array | ArrayBuffer | string | null | undefined;

/** The exact bytes a body puts on the wire; no body is zero bytes. */
export function toBytes(body: BodyInput): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return body;
  throw new TypeError('body must be a string, Uint8Array or ArrayBuffer to be digested');
}

/** base64url SHA-256 (the `cdg` and `tth` claims), through WebCrypto so browsers share it. */
export async function sha256Base64url(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return encodeBase64url(new Uint8Array(digest));
}
