import { decodeBase64urlText } from '../shared/base64url.js';
import { isKid, STAMP_ALGS, type StampAlg } from '../shared/constants.js';
import type { AddressSource } from './address-source.js';
import { checkKeyObjectSigns, checkPrivateJwk, importSigningKey, isKeyObjectInput, type SigningKey, type StampKeyInput } from './signing-key.js';
import { createStamper, type Stamper, type StampRequest } from './stamper.js';

export interface RequestStamperOptions {
  key: StampKeyInput;
  bodyDigest?: boolean | undefined;
  now?: (() => number) | undefined;
}

/** One key, many address sources: what a fetch wrapper or an interceptor signs with. */
export interface RequestStamper {
  readonly kid: string;
  readonly alg: StampAlg;
  readonly bodyDigest: boolean;
  /** The `Client-IP-Attestation` value for this request, with the address from `source`. */
  stamp(source: AddressSource, request: StampRequest): Promise<string>;
}

/**
 * The checks `importSigningKey` makes before importing, done at setup so a wrong key fails
 * before the first request. What only the import finds (a point off its curve) fails the
 * first request, with the same TypeError `importSigningKey` throws.
 */
function checkKeyShape(key: unknown): asserts key is StampKeyInput {
  if (typeof key !== 'object' || key === null) throw new TypeError('key must be a JWK or { key, kid, alg }');
  const { kid, alg } = key as { kid?: unknown; alg?: unknown };
  if (!isKid(kid)) throw new TypeError('key.kid must be 1–128 characters of [A-Za-z0-9._:-]');
  if (!(STAMP_ALGS as readonly unknown[]).includes(alg)) throw new TypeError(`key.alg must be one of ${STAMP_ALGS.join(', ')}`);
  const input = key as StampKeyInput;
  if (!isKeyObjectInput(input)) checkPrivateJwk(input as Record<string, unknown>, alg as StampAlg);
  else checkKeyObjectSigns(input.key);
}

export function createRequestStamper(options: RequestStamperOptions): RequestStamper {
  checkKeyShape(options.key);
  if (options.bodyDigest !== undefined && typeof options.bodyDigest !== 'boolean') throw new TypeError('bodyDigest must be a boolean');
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('now must be a function returning milliseconds');
  const keyInput = options.key;
  const bodyDigest = options.bodyDigest === true;
  // Imported once and shared: each source gets its own Stamper over the already imported key.
  let signingKey: Promise<SigningKey> | undefined;
  const stampers = new WeakMap<AddressSource, Stamper>();

  return {
    kid: keyInput.kid as string,
    alg: keyInput.alg as StampAlg,
    bodyDigest,
    async stamp(source, request) {
      signingKey ??= importSigningKey(keyInput);
      const promise = signingKey;
      const key = await promise.catch((error: unknown) => {
        if (signingKey === promise) signingKey = undefined; // a failed import is not remembered
        throw error;
      });
      let stamper = stampers.get(source);
      if (stamper === undefined) {
        stamper = createStamper({ key: { key: key.key, kid: key.kid, alg: key.alg }, ip: source, bodyDigest, now: options.now });
        stampers.set(source, stamper);
      }
      return stamper.stamp(request);
    },
  };
}

/** The `ip` claim of a stamp this SDK made (to tell a source which address went stale). */
export function stampedAddress(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  const text = decodeBase64urlText(payload);
  if (text === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(text);
    const ip = (claims as { ip?: unknown }).ip;
    return typeof ip === 'string' ? ip : undefined;
  } catch {
    return undefined;
  }
}
