/**
 * What the client has learned of each server's clock: a correction per origin, added to the
 * local clock when a stamp for that origin is signed. It is learned from answers a verifier made
 * just then — its echo answer (`time`, else `Date`), its ticket answer and its `expired` /
 * `not-yet-valid` refusals (`Date`) — never from an ordinary answer, which a cache may have kept
 * with its old `Date`.
 *
 * Bounded: whatever any server says, a correction is at most `maxCorrectionMs` either way, so a
 * server that lies about the time cannot make the client sign stamps further than that from its
 * own clock. A learned time beyond the bound is not applied at all (a clamped one would be
 * refused all the same).
 */

import { parseStrictJsonObject } from '../shared/strict-json.js';
import { readBoundedText } from './bounded-body.js';
import { bodyStream, type FetchLike, type ResponseLike } from './fetch-like.js';

/** Five minutes: a clock this far off is set wrong by hand, not drifting; RFC 4120's customary Kerberos skew. */
export const DEFAULT_MAX_CLOCK_CORRECTION_MS = 300_000;
/** The largest bound the option takes: one day (a clock set in the wrong time zone is off by up to 14 hours). */
export const MAX_CLOCK_CORRECTION_LIMIT_MS = 86_400_000;
/** Origins whose correction is kept; past this the oldest is forgotten (it is learned again at its next refusal). */
const MAX_ORIGINS = 256;
/** The largest time a JavaScript Date holds, in seconds (±8.64e15 ms). */
const MAX_DATE_SECONDS = 8_640_000_000_000;

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const IMF_FIXDATE = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;

/**
 * An HTTP date in the one format senders must generate (RFC 9110 §5.6.7, IMF-fixdate:
 * `Sun, 06 Nov 1994 08:49:37 GMT`) → epoch milliseconds; undefined for anything else,
 * including an impossible day or a weekday that does not fit. `Date.parse` is not used: it
 * guesses at any text (`"0"` is the year 2000 in V8).
 */
export function parseHttpDate(value: string | null | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = IMF_FIXDATE.exec(value);
  if (m === null) return undefined;
  const [, weekday, day, month, year, hour, minute, second] = m as unknown as [string, string, string, string, string, string, string, string];
  const h = Number(hour);
  const min = Number(minute);
  const s = Number(second);
  if (h > 23 || min > 59 || s > 60) return undefined; // 60: a leap second
  const midnight = new Date(Date.UTC(Number(year), MONTHS.indexOf(month), Number(day)));
  // Date.UTC rolls 31 Feb over into March, and takes years 0–99 as 1900–1999
  if (midnight.getUTCFullYear() !== Number(year) || midnight.getUTCMonth() !== MONTHS.indexOf(month) || midnight.getUTCDate() !== Number(day)) {
    return undefined;
  }
  if (WEEKDAYS[midnight.getUTCDay()] !== weekday) return undefined;
  return midnight.getTime() + ((h * 60 + min) * 60 + s) * 1000;
}

export interface ServerClocks {
  /** The local clock, in ms. */
  local(): number;
  /** The time to sign a stamp for `origin` with, in ms: the local clock plus that server's correction. */
  now(origin: string): number;
  /** What is added to the local clock for `origin` now, in ms (0 when nothing was learned). */
  correction(origin: string): number;
  /**
   * Learns from an answer `origin` made to a request sent at `sentAt` and answered at
   * `receivedAt` (local ms), dated `serverSecond` (epoch ms of the whole second the server's
   * clock showed: its `Date`, or the echo's `time`). True when the correction for `origin`
   * changed. Whether a refused stamp is worth signing again is `correction(origin)` against
   * the correction it was signed with: another request may have learned the time first.
   */
  learn(origin: string, serverSecond: number | undefined, sentAt: number, receivedAt: number): boolean;
}

export interface ServerClockOptions {
  now?: (() => number) | undefined;
  maxCorrectionMs?: number | undefined;
}

export function checkMaxClockCorrection(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_CLOCK_CORRECTION_MS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_CLOCK_CORRECTION_LIMIT_MS) {
    throw new TypeError(`maxClockCorrectionMs must be a number of milliseconds from 0 to ${MAX_CLOCK_CORRECTION_LIMIT_MS}`);
  }
  return value;
}

/**
 * The corrections (server − local, ms) an answer dated `serverSecond` is consistent with: the
 * server read its clock somewhere between `sentAt` and `receivedAt` and wrote the whole second
 * it was in. Undefined when the local clock ran backwards in between.
 */
export function correctionRange(serverSecond: number, sentAt: number, receivedAt: number): { low: number; high: number } | undefined {
  if (!Number.isFinite(serverSecond) || !(receivedAt >= sentAt)) return undefined;
  return { low: serverSecond - receivedAt, high: serverSecond + 1000 - sentAt };
}

export function createServerClocks(options: ServerClockOptions = {}): ServerClocks {
  const local = options.now ?? Date.now;
  const bound = checkMaxClockCorrection(options.maxCorrectionMs);
  const corrections = new Map<string, number>();

  return {
    local,
    now: (origin) => local() + (corrections.get(origin) ?? 0),
    correction: (origin) => corrections.get(origin) ?? 0,
    learn(origin, serverSecond, sentAt, receivedAt) {
      const range = serverSecond === undefined ? undefined : correctionRange(serverSecond, sentAt, receivedAt);
      if (range === undefined) return false;
      const current = corrections.get(origin) ?? 0;
      // what we sign with already fits what the server says: nothing to learn
      if (range.low <= current && current <= range.high) return false;
      // no correction when none is needed; else the middle of what the answer allows
      const next = range.low <= 0 && 0 <= range.high ? 0 : Math.round((range.low + range.high) / 2);
      if (!(Math.abs(next) <= bound)) return false;
      corrections.delete(origin);
      if (next !== 0) {
        if (corrections.size >= MAX_ORIGINS) corrections.delete(corrections.keys().next().value!);
        corrections.set(origin, next);
      }
      return true;
    },
  };
}

/** `{"ip": …, "time": …}` is under 100 bytes; a larger 200 answer is not an echo answer. */
const MAX_TIME_ANSWER_BYTES = 4096;

/**
 * The `time` of an echo answer (PROTOCOL.md §6), read from a clone so the caller still reads the
 * whole body: epoch ms of that whole second, or undefined (a verifier from before `time`, or
 * not JSON, or not a whole number of seconds a `Date` could hold).
 */
export async function echoTime(response: ResponseLike): Promise<number | undefined> {
  if (!/^application\/json\b/i.test(response.headers.get('content-type') ?? '')) return undefined;
  let text: string | undefined;
  try {
    text = await readBoundedText(bodyStream(response.clone()), MAX_TIME_ANSWER_BYTES);
  } catch {
    return undefined;
  }
  const time = text === undefined ? undefined : parseStrictJsonObject(text)?.time;
  return typeof time === 'number' && Number.isSafeInteger(time) && Math.abs(time) <= MAX_DATE_SECONDS ? time * 1000 : undefined;
}

/** The origin a fetch is sent to (the echo and ticket requests the SDK makes pass absolute URLs). */
function originOf(input: string | URL | Request): string | undefined {
  try {
    return new URL(typeof input === 'object' && !(input instanceof URL) ? input.url : input).origin;
  } catch {
    return undefined;
  }
}

/**
 * A fetch that learns each origin's clock from its 200 answers — for the echo and ticket
 * requests, which a verifier answers fresh (`no-store`): the echo's `time` (PROTOCOL.md §6: the
 * verifier's own clock, readable cross-origin without any exposed header), else the `Date`.
 */
export function learningFetch<R extends ResponseLike>(fetchFn: FetchLike<R>, clocks: ServerClocks): FetchLike<R> {
  return async (input: string | URL | Request, init?: RequestInit) => {
    const sentAt = clocks.local();
    const response = await fetchFn(input, init);
    if (response.status === 200) {
      const receivedAt = clocks.local();
      const serverSecond = (await echoTime(response)) ?? parseHttpDate(response.headers.get('date'));
      const origin = originOf(input);
      if (origin !== undefined) clocks.learn(origin, serverSecond, sentAt, receivedAt);
    }
    return response;
  };
}
