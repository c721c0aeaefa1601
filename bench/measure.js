/**
 * Small timing helpers shared by the bench scripts. Every figure is a median of several
 * alternating rounds, so machine drift hits baseline and variant alike.
 */

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Operations per second of `fn(i)` (sync or async) over `count` calls. `clock: 'cpu'` counts
 * this process's CPU time instead of wall time: on a shared machine the time another process
 * holds the core is then not charged to whichever variant happened to be running.
 */
export async function opsPerSecond(fn, count, { clock = 'wall' } = {}) {
  // Every window starts with an empty young generation (with --expose-gc, as `npm run bench`
  // runs): otherwise where the scavenges fall depends on the windows before, and a short
  // window of an allocating pipeline can run with none at all, 15% faster than its steady state.
  globalThis.gc?.({ type: 'minor' });
  const start = clock === 'cpu' ? process.cpuUsage() : process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = fn(i);
    if (r && typeof r.then === 'function') await r;
  }
  if (clock === 'cpu') {
    const used = process.cpuUsage(start);
    return (count * 1e6) / (used.user + used.system);
  }
  const ns = Number(process.hrtime.bigint() - start);
  return (count * 1e9) / ns;
}

/**
 * Runs each variant `rounds` times, alternating (A B C A B C …), after one warm-up pass, and
 * returns every round's ops/s of each variant.
 */
export async function compareOpsByRound(variants, { count, rounds = 5, clock = 'wall' }) {
  const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const make of Object.values(variants)) await opsPerSecond(await make(), Math.min(count, 2000), { clock });
  for (let r = 0; r < rounds; r++) {
    for (const [name, make] of Object.entries(variants)) {
      const fn = await make();
      results[name].push(await opsPerSecond(fn, count, { clock }));
    }
  }
  return results;
}

/** The median ops/s of each variant over alternating rounds (see compareOpsByRound). */
export async function compareOps(variants, options) {
  const results = await compareOpsByRound(variants, options);
  return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
}

/** Per round, bare's CPU per request over the variant's: both windows of a round saw the same machine. */
export function bareOverVariantByRound(bare, variant) {
  return variant.map((x, i) => bare[i].cpuPerRequestUs / x.cpuPerRequestUs);
}

/**
 * ES256 against its limit, per round: the limit is bare ÷ (bare + one raw verify), so the
 * variant's ratio to bare over it is (bare + raw verify) ÷ variant, each figure from the same
 * round (`verifyUs[i]`: µs of CPU per raw verify, measured in round i).
 */
export function ofLimitByRound(bare, variant, verifyUs) {
  // a round without its own verify figure would read NaN, or another round's, without a word
  if (bare.length !== variant.length || verifyUs.length !== variant.length) {
    throw new RangeError(`rounds do not pair up: ${bare.length} bare, ${variant.length} variant, ${verifyUs.length} verify figures`);
  }
  return variant.map((x, i) => (bare[i].cpuPerRequestUs + verifyUs[i]) / x.cpuPerRequestUs);
}

/** The paced rate of a p99 pair: half the slower server's saturated rate, in hundreds, at least 100/s. */
export function pacedRateFor(slowerRps) {
  return Math.max(100, Math.round(slowerRps / 2 / 100) * 100);
}

/** The median of each run of `size` consecutive values (the rounds of one generation, in order). */
export function medianPerChunk(values, size) {
  const out = [];
  for (let at = 0; at < values.length; at += size) out.push(Number(median(values.slice(at, at + size)).toFixed(3)));
  return out;
}

/** The median over rounds of a / b, each round's pair measured side by side. */
export function medianRatio(a, b) {
  return median(a.map((x, i) => x / b[i]));
}

/**
 * One p99 pair as latencySummary reads it: bare and the variant, each run by load.js paced
 * (inside processes.js withBusyShare) at the same `rate`, back to back.
 */
export function latencyPair(rate, bare, variant) {
  return {
    rate,
    bareP99Ms: bare.p99Ms,
    p99Ms: variant.p99Ms,
    // the lead-ins', outside the figure
    bareLeadInP99Ms: bare.leadInP99Ms,
    leadInP99Ms: variant.leadInP99Ms,
    // what of the p99 was spent in the load, and of that waiting for a free connection
    bareQueuedP99Ms: bare.queuedP99Ms,
    queuedP99Ms: variant.queuedP99Ms,
    bareConnectionWaitP99Ms: bare.connectionWaitP99Ms,
    connectionWaitP99Ms: variant.connectionWaitP99Ms,
    // the share of its core each server was busy at that rate
    bareBusy: bare.busy,
    busy: variant.busy,
    failedRequests: variant.errors,
  };
}

/**
 * p99 latency of a variant against bare's, from one pair per generation (the two at the same
 * paced rate, back to back) as one figure: the median of the per-generation ratios. On 2 shared
 * cores one 3 s pair is mostly luck — two identical bare servers measured 1–4 ms apart, and the
 * same pair of servers moved by a factor of up to 6 between runs — while the CPU figures
 * already take the median over generations. Every pair's ratio is kept (`perGeneration`).
 */
export function latencySummary(pairs) {
  const mid = (pick) => median(pairs.map(pick));
  return {
    rate: mid((p) => p.rate),
    bareP99Ms: mid((p) => p.bareP99Ms),
    p99Ms: mid((p) => p.p99Ms),
    p99OverBare: mid((p) => p.p99Ms / p.bareP99Ms),
    // what of a request's latency was spent in the load before it went out, and waiting for a
    // free connection (load.js paced): a p99 close to the latter is a queue of held connections
    bareQueuedP99Ms: mid((p) => p.bareQueuedP99Ms),
    queuedP99Ms: mid((p) => p.queuedP99Ms),
    bareConnectionWaitP99Ms: mid((p) => p.bareConnectionWaitP99Ms),
    connectionWaitP99Ms: mid((p) => p.connectionWaitP99Ms),
    bareBusy: mid((p) => p.bareBusy),
    busy: mid((p) => p.busy),
    failedRequests: pairs.reduce((sum, p) => sum + (p.failedRequests ?? 0), 0),
    perGeneration: pairs.map((p) => Number((p.p99Ms / p.bareP99Ms).toFixed(2))),
    // the paced windows' lead-ins (load.js), kept out of the figure and shown beside it
    leadInP99OverBare: mid((p) => p.leadInP99Ms / p.bareLeadInP99Ms),
    leadInPerGeneration: pairs.map((p) => Number((p.leadInP99Ms / p.bareLeadInP99Ms).toFixed(2))),
  };
}

export function fmt(n, digits = 0) {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
