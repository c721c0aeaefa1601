/**
 * A runtime's own WebCrypto, asked directly (no ipstamp in between): does it import this JWK,
 * and does this signature verify under it? The conformance test asks Bun, Deno, workerd and
 * Node the same, to show which of the verifier's own checks (lengths, small-order keys, key
 * shapes) are load-bearing on which runtime. Runtime-neutral: WebCrypto only.
 */
export interface SignatureProbe {
  id: string;
  alg: 'ES256' | 'ES384' | 'EdDSA' | 'HS256';
  /** The key as the verifier is configured with it (kid and alg are ignored here). */
  jwk: Record<string, unknown>;
  /** The JWS signing input, ASCII. */
  data: string;
  /** The signature bytes, base64url. */
  signature: string;
}

/** `imported`/`verified`: true, false, or the name of the error the runtime threw. */
export interface ProbeAnswer {
  id: string;
  imported: true | string;
  verified?: boolean | string;
}

function bytesOf(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

function paramsOf(alg: SignatureProbe['alg']): { importAs: EcKeyImportParams | HmacImportParams | Algorithm; verifyAs: EcdsaParams | Algorithm } {
  if (alg === 'HS256') return { importAs: { name: 'HMAC', hash: 'SHA-256' }, verifyAs: { name: 'HMAC' } };
  if (alg === 'EdDSA') return { importAs: { name: 'Ed25519' }, verifyAs: { name: 'Ed25519' } };
  const [curve, hash] = alg === 'ES256' ? ['P-256', 'SHA-256'] : ['P-384', 'SHA-384'];
  return { importAs: { name: 'ECDSA', namedCurve: curve }, verifyAs: { name: 'ECDSA', hash } };
}

const errorName = (error: unknown): string => (error instanceof Error ? `${error.name}` : typeof error);

export async function probeSignature(probe: SignatureProbe): Promise<ProbeAnswer> {
  const { importAs, verifyAs } = paramsOf(probe.alg);
  const { kid: _kid, alg: _alg, ...jwk } = probe.jwk;
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('jwk', jwk as JsonWebKey, importAs, false, ['verify']);
  } catch (error) {
    return { id: probe.id, imported: errorName(error) };
  }
  try {
    const verified = await crypto.subtle.verify(verifyAs, key, bytesOf(probe.signature), new TextEncoder().encode(probe.data));
    return { id: probe.id, imported: true, verified };
  } catch (error) {
    return { id: probe.id, imported: true, verified: errorName(error) };
  }
}
