/** A bad flag, a missing argument, an unreadable keys file: one line on stderr, exit 2, no stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'ERR_IPSTAMP_USAGE';
}
