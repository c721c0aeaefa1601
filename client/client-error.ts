/**
 * Failures of the client SDK itself, before or around a request — as opposed to
 * `IpStampError`, which carries a wire reason a verifier answered with. Messages are fixed
 * strings: never a URL, an address, a body or a key (one names the key file the caller gave,
 * when it cannot be read). The underlying error, if any, is `cause`.
 */
export const CLIENT_ERROR_MESSAGES = {
  /** The address could not be learned from the echo endpoint (network, status, or body). */
  ERR_IPSTAMP_ECHO_FAILED: 'could not learn the client address from the echo endpoint',
  /** The local address of a TCP connection to the target could not be read. */
  ERR_IPSTAMP_SOCKET_FAILED: 'could not learn the client address from a connection to the target',
  /** `bodyDigest` is on and the body is a stream (or another form whose bytes are not known in advance). */
  ERR_IPSTAMP_BODY_NOT_DIGESTIBLE: 'the request body cannot be digested: pass bytes, a string, a Blob or URLSearchParams, not a stream',
  /** An undici dispatch without an origin, on an interceptor configured without `origin`. */
  ERR_IPSTAMP_NO_ORIGIN: 'the request has no origin to bind the stamp to',
  /** The ticket issuer could not be reached, refused the request, or answered something that is not a ticket. */
  ERR_IPSTAMP_TICKET_FAILED: 'could not obtain a ticket from the issuer',
  /**
   * A key file that cannot be read, is not JSON, or holds no usable private JWK with kid and
   * alg. One that cannot be read says so instead, with its path and the system's code:
   * `cannot read the key file "keys/client.jwk.json": ENOENT`.
   */
  ERR_IPSTAMP_KEY_FILE: 'the key file does not hold a usable private JWK with kid and alg',
  /** `createStampedFetch` followed 20 redirects and got another (fetch's limit). */
  ERR_IPSTAMP_TOO_MANY_REDIRECTS: 'more than 20 redirects',
  /** A redirect `createStampedFetch` cannot follow with a fresh stamp: a Location that is not an http(s) URL without credentials, or a 307/308 that needs a stream body sent again. */
  ERR_IPSTAMP_REDIRECT_NOT_FOLLOWED:
    'the redirect cannot be followed with a new stamp: its Location is not an http(s) URL without credentials, or it needs a stream body sent again',
  /** The runtime hid a redirect (an opaque redirect, as in browsers): its Location cannot be read, so it is not followed. */
  ERR_IPSTAMP_OPAQUE_REDIRECT: "the runtime hides the redirect's Location (an opaque redirect, as in browsers): it cannot be followed with a new stamp",
} as const;

export type IpStampClientErrorCode = keyof typeof CLIENT_ERROR_MESSAGES;

export class IpStampClientError extends Error {
  override readonly name = 'IpStampClientError';
  readonly code: IpStampClientErrorCode;

  /** `message` replaces the code's usual one where the SDK knows more (a key file it cannot read); the code stays. */
  constructor(code: IpStampClientErrorCode, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? CLIENT_ERROR_MESSAGES[code], options !== undefined && Object.hasOwn(options, 'cause') ? { cause: options.cause } : undefined);
    this.code = code;
  }
}

export function isIpStampClientError(value: unknown): value is IpStampClientError {
  return value instanceof IpStampClientError;
}
