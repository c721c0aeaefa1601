import { REASON_TITLES, type Reason } from './reasons.js';

/** `bad-signature` → `ERR_IPSTAMP_BAD_SIGNATURE`. */
export type IpStampErrorCode = `ERR_IPSTAMP_${string}`;

export function errorCodeOf(reason: Reason): IpStampErrorCode {
  return `ERR_IPSTAMP_${reason.toUpperCase().replace(/-/g, '_')}`;
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
