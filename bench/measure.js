/**
 * Small timing helpers shared by the bench scripts. Every figure is a median of several
 * alternating rounds, so machine drift hits baseline and variant alike.
 */

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Operations per second of `fn(i)` (sync or async) over `count` calls. */
export async function opsPerSecond(fn, count) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = fn(i);
    if (r && typeof r.then === 'function') await r;
  }
  const ns = Number(process.hrtime.bigint() - start);
  return (count * 1e9) / ns;
}

/**
 * Runs each variant `rounds` times, alternating (A B C A B C …), after one warm-up pass,
 * and returns the median ops/s of each.
 */
export async function compareOps(variants, { count, rounds = 5 }) {
  const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const make of Object.values(variants)) await opsPerSecond(await make(), Math.min(count, 2000));
  for (let r = 0; r < rounds; r++) {
    for (const [name, make] of Object.entries(variants)) {
      const fn = await make();
      results[name].push(await opsPerSecond(fn, count));
    }
  }
  return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
}

export function fmt(n, digits = 0) {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
