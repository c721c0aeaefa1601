import type { Reason } from '../../shared/reasons.js';

/** HTTP status by reason (PROTOCOL.md §5, §7). Lives in server/: the wire code is shared, the status is HTTP's. */
export const REASON_STATUS: Readonly<Record<Reason, 401 | 403 | 503>> = {
  missing: 401,
  malformed: 401,
  'bad-header': 401,
  'bad-ticket': 401,
  'unknown-key': 401,
  'bad-signature': 401,
  'bad-claims': 401,
  'not-yet-valid': 401,
  expired: 401,
  'binding-mismatch': 401,
  replay: 401,
  'ip-not-allowed': 403,
  'ip-mismatch': 403,
  'ip-unverifiable': 403,
  'store-unavailable': 503,
};
