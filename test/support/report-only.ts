/**
 * The sequence every report-only test of an adapter sends (test/{plugin,node,hono}/report-only):
 * a good stamp, a forged one, the good one again, one claiming another address, none. What the
 * handler must see for each, the verdict's address or null beside the refusal, and the
 * `ipstamp.requests` points the verifier counts for them (outcome, reason, count), sorted.
 */
export function reportedSequence(peer: string): {
  readonly seen: readonly (readonly [string | null, string | null])[];
  readonly requestPoints: readonly unknown[];
} {
  return {
    seen: [
      [peer, null],
      [null, 'bad-signature'],
      [null, 'replay'],
      [null, 'ip-mismatch'],
      [null, 'missing'],
    ],
    requestPoints: [
      ['accepted', null, 1],
      ['rejected', 'bad-signature', 1],
      ['rejected', 'ip-mismatch', 1],
      ['rejected', 'missing', 1],
      ['rejected', 'replay', 1],
    ],
  };
}
