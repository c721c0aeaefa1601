import { parseStrictJsonObject } from '../shared/strict-json.js';
import { readBoundedText } from './bounded-body.js';
import { bodyStream, type ResponseLike } from './fetch-like.js';

/** A problem+json rejection is a few hundred bytes; more is not one of ours. */
const MAX_PROBLEM_BYTES = 4096;

/** Is this status and content type a verifier's `ip-mismatch` rejection, by its headers alone? */
export function mayBeIpMismatch(status: number, contentType: string | null | undefined): boolean {
  return status === 403 && isProblemJson(contentType);
}

export function isProblemJson(contentType: string | null | undefined): boolean {
  return typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/problem+json');
}

/** Parses a problem+json body (PROTOCOL.md §5) and says whether its reason is `ip-mismatch`. */
export function isIpMismatchProblem(text: string | undefined): boolean {
  return text !== undefined && parseStrictJsonObject(text)?.reason === 'ip-mismatch';
}

/**
 * Reads the reason from a clone, so the caller still gets the whole, unread response when
 * it is returned to them.
 */
export async function isIpMismatchResponse(response: ResponseLike): Promise<boolean> {
  if (!mayBeIpMismatch(response.status, response.headers.get('content-type'))) return false;
  try {
    return isIpMismatchProblem(await readBoundedText(bodyStream(response.clone()), MAX_PROBLEM_BYTES));
  } catch {
    return false;
  }
}

/** The reason of a 401 problem+json rejection, read from a clone like the above; undefined for anything else. */
async function unauthorizedReason(response: ResponseLike): Promise<unknown> {
  if (response.status !== 401 || !isProblemJson(response.headers.get('content-type'))) return undefined;
  try {
    const text = await readBoundedText(bodyStream(response.clone()), MAX_PROBLEM_BYTES);
    return text === undefined ? undefined : parseStrictJsonObject(text)?.reason;
  } catch {
    return undefined;
  }
}

/** Is this a 401 `bad-ticket` rejection (PROTOCOL.md §7.4)? */
export async function isBadTicketResponse(response: ResponseLike): Promise<boolean> {
  return (await unauthorizedReason(response)) === 'bad-ticket';
}

/** Is this a 401 `expired` or `not-yet-valid` rejection (PROTOCOL.md §5 steps 7–8): the stamp's time, not the stamp, was refused? */
export async function isClockRefusal(response: ResponseLike): Promise<boolean> {
  const reason = await unauthorizedReason(response);
  return reason === 'expired' || reason === 'not-yet-valid';
}

export { MAX_PROBLEM_BYTES };
