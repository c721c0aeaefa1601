/**
 * One of `process.nextTick`'s own tick objects, kept for the life of the process, so that a
 * server's every `nextTick` stays on V8's fast path (issue #16; bench/README.md, "Twelfth pass").
 *
 * Node builds each tick object as a literal with computed symbol keys
 * (`{ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback, args }`). V8 cannot copy
 * such a literal from a template: it adds the keys one at a time, through hidden classes that
 * no object keeps once the tick queue is empty. A full collection in such a moment — an idle
 * server's memory-reducing GC, a quiet spell under light load — frees them. The next tick object
 * then gets new ones, the literal's feedback no longer matches, and (as V8's source reads) it
 * turns megamorphic for good: from then on every `nextTick` (an HTTP request makes several)
 * defines its keys in V8's runtime. Measured: 4–6 µs more CPU per request, in bare Fastify on
 * Node 20 and 22 alike after a few full collections at idle, and in a Fastify server with
 * ipstamp's plugin on Node 22 without forcing anything. A tick object that stays alive keeps its
 * hidden class, and through its back pointers every one before it, so none is ever freed.
 *
 * The cost is one small object. It is taken when an adapter is set up, before traffic: feedback
 * that has already gone megamorphic cannot be repaired, only prevented. On a runtime whose
 * `executionAsyncResource()` gives something else in a tick (or nothing), what is kept is just
 * that object (or nothing), and nothing else changes.
 */
// the namespace, not a named import: a runtime whose node:async_hooks lacks the function still loads this
import * as asyncHooks from 'node:async_hooks';

/** undefined: never asked; null: asked, and the tick has not run yet (or gave nothing); else the kept tick object. */
let kept: object | null | undefined;

/** Keeps one tick object alive from the next tick on. Idempotent: the first call is the only one that schedules. */
export function keepTickObjectShapes(): void {
  if (kept !== undefined) return;
  kept = null;
  process.nextTick(() => {
    // never a throw from here: this tick runs outside any request, where nothing would catch it
    try {
      kept = asyncHooks.executionAsyncResource?.() ?? null;
    } catch {
      kept = null;
    }
  });
}

/** The kept tick object: undefined before the first call, null until its tick has run (for tests). */
export function keptTickObject(): object | null | undefined {
  return kept;
}
