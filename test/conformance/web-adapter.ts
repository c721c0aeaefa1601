import { MemoryReplayStore } from '../../server/stores/memory.js';
import { createWebVerifier } from '../../server/web/index.js';
import type { ConformanceAdapter } from './vector-format.js';
import { runWebVector } from './vector-run.js';

/**
 * ipstamp/web (`createWebVerifier`, WebCrypto and the pure-JavaScript CIDR list), fed each
 * vector as a web `Request` and the connection a runtime reports — the way a Worker calls it.
 * A vector a `Request` cannot carry faithfully goes through `verifyInput` as plain data
 * instead: a header sent more than once (a `Headers` joins the instances, where Node keeps
 * them apart), a method `Request` refuses, a request-target that is not a path. No vector is
 * skipped; `counts` says how many took each path. The feeding is vector-run.ts, shared with
 * the same run inside Bun, Deno and workerd (test/runtimes/conformance.test.ts).
 */
export const webVerifierAdapter: ConformanceAdapter & { readonly counts: { request: number; plain: number } } = {
  name: 'ipstamp/web (createWebVerifier)',
  counts: { request: 0, plain: 0 },
  run(vector, keys) {
    return runWebVector({ createWebVerifier, MemoryReplayStore }, vector, keys, this.counts);
  },
};
