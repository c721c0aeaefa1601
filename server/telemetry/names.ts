/**
 * Every name ipstamp's telemetry exports, in one place: docs/telemetry.md lists them and
 * dashboards key on them, so a rename is a breaking change.
 */
export const TELEMETRY_NAMES = Object.freeze({
  spans: Object.freeze({
    /** One verification (PROTOCOL.md §5), from the header read to the verdict. */
    verify: 'ipstamp.verify',
    /** The replay store's `insertIfAbsent` (step 10), a child of `ipstamp.verify` when a context manager is registered. */
    replayStoreInsert: 'ipstamp.replay_store.insert',
  }),
  metrics: Object.freeze({
    /** Counter `{request}`: verifications by outcome, reason and agreement. */
    requests: 'ipstamp.requests',
    /** Histogram `s`: time in `verify`, store included. */
    verifyDuration: 'ipstamp.verify.duration',
    /** Histogram `s`: time in the replay store's `insertIfAbsent`. */
    replayStoreDuration: 'ipstamp.replay_store.duration',
  }),
  attributes: Object.freeze({
    /** `accepted` | `rejected` | `unstamped` (no stamp where it is optional, or a CORS preflight) | `error` (verify threw). */
    outcome: 'ipstamp.outcome',
    /** The wire reason of a rejection (PROTOCOL.md §5): `replay`, `expired`, … */
    reason: 'ipstamp.reason',
    /** `match` | `mismatch` | `unverifiable`, on an accepted stamp. */
    agreement: 'ipstamp.agreement',
    /** False only when `onStoreError: 'accept'` let a stamp through unchecked. */
    replayChecked: 'ipstamp.replay_checked',
    /** `stamp` | `ticket`, on an accepted stamp. */
    source: 'ipstamp.source',
    /** The key id, once the key was found (never an unknown, attacker-chosen kid). Spans only. */
    kid: 'ipstamp.kid',
    /** The stamp's algorithm, on an accepted stamp. Spans only. */
    alg: 'ipstamp.alg',
    /** Which hint named the observed address: `l3` | `l4` | `l7`. Spans only. */
    decidedBy: 'ipstamp.decided_by',
    /** The attested (verified) client address, on an accepted stamp. Spans only. OpenTelemetry semantic conventions. */
    clientAddress: 'client.address',
    /** `inserted` | `replay` | `full` | `error`: what the replay store answered. */
    storeOutcome: 'ipstamp.replay_store.outcome',
    /** On a failure: an error's code (`ERR_IPSTAMP_STORE_FULL`) or class name, never its message. */
    errorType: 'error.type',
  }),
});
