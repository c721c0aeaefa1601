import { REASONS, REASON_TITLES, type Reason } from './reasons.js';

/** `bad-signature` → `ERR_IPSTAMP_BAD_SIGNATURE`. */
export type IpStampErrorCode = `ERR_IPSTAMP_${string}`;

const codeOf = (reason: string): IpStampErrorCode => `ERR_IPSTAMP_${reason.toUpperCase().replace(/-/g, '_')}`;
// worked out once: every refusal builds an error, and the regex would run for each
const ERROR_CODES = new Map<string, IpStampErrorCode>(REASONS.map((reason) => [reason, codeOf(reason)]));

export function errorCodeOf(reason: Reason): IpStampErrorCode {
  return ERROR_CODES.get(reason) ?? codeOf(reason);
}

/**
 * The one error a bad request produces. `reason` is the wire code (PROTOCOL.md §5);
 * the message is a fixed string so that no token, key or header ever leaks into logs.
 */
export class IpStampError extends Error {
  override readonly name = 'IpStampError';
  readonly reason: Reason;
  readonly code: IpStampErrorCode;

  constructor(reason: Reason, options?: { cause?: unknown }) {
    super(REASON_TITLES[reason], options);
    this.reason = reason;
    this.code = errorCodeOf(reason);
  }
}

export function isIpStampError(value: unknown): value is IpStampError {
  return value instanceof IpStampError;
}

/**
 * Builds an error without capturing a stack trace: for the errors a refusal carries
 * (`result.error` of a verifier or an issuer, a full store's refusal). A refusal is an answer
 * about a request, not a failure at some place in this code, so its stack says nothing; and
 * capturing one inside a server's deep call stack cost ~5 µs per refusal, more than every check
 * the refusal ran (bench/README.md, "Eleventh pass"). The error is otherwise the same: its
 * class, name, message, reason and code. Where `Error.stackTraceLimit` is not a number that can
 * be written (another engine, frozen intrinsics) it is built as usual; the limit is put back
 * either way.
 */
export function withoutStackTrace<E extends Error>(build: () => E): E {
  // V8 and JavaScriptCore read it; this file is universal, so the type does not promise it
  const errorClass = Error as ErrorConstructor & { stackTraceLimit?: unknown };
  const limit = errorClass.stackTraceLimit;
  if (typeof limit !== 'number') return build();
  try {
    errorClass.stackTraceLimit = 0;
  } catch {
    return build();
  }
  try {
    return build();
  } finally {
    errorClass.stackTraceLimit = limit;
  }
}

/** The error a refusal carries for `reason`: an IpStampError without a stack trace (see above). */
export function refusalError(reason: Reason): IpStampError {
  return withoutStackTrace(() => new IpStampError(reason));
}
