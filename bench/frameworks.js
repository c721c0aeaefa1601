/**
 * The framework rows of the HTTP cost: server CPU per answered request of an app with the
 * ipstamp middleware (HS256, memory store) against the same app bare, same run — Express 5 with
 * ipstamp/node (bench/express-server.js), Hono on @hono/node-server with ipstamp/hono
 * (bench/hono-server.js). The method of bench/http.js: servers pinned to core 0, the load
 * (bench/load.js, stamps built before each window) on core 1, fresh processes per generation,
 * windows taking turns (two back to back per turn, the second counted: see its idleness note),
 * the ratio the median over rounds of bare's CPU per request over ipstamp's.
 *
 *   npm run build && node bench/frameworks.js express|hono [--quick]
 *
 * Prints the table and `<framework>_hs256_memory_vs_bare` (≥ 0.65 is the HTTP-cost goal), and
 * the p99 latency of both at one fixed rate (half the slower one's saturated rate; goal: ipstamp's
 * within 2× of bare's), measured in every generation with bench/load.js paced: the median of the
 * generations' ratios.
 */
import { exportJWK, generateSecret } from 'jose';
import { blast, buildRequests, LEAD_IN_SECONDS, paced } from './load.js';
import { bareOverVariantByRound, latencyPair, latencySummary, median, medianPerChunk, pacedRateFor } from './measure.js';
import { forkBenchServer, pin, withBusyShare } from './processes.js';
import { stampSigner } from './sign-stamp.js';

async function startServer(framework, variant, keys) {
  return forkBenchServer(new URL(`./${framework}-server.js`, import.meta.url), [variant, JSON.stringify(keys)]);
}

/** The load for one server: bare gets plain GETs, ipstamp fresh distinct stamps (each is good once). */
function target(variant, server, keys, stamped) {
  let nextStamp;
  if (stamped) {
    const sign = stampSigner(keys.hs256);
    const htu = `http://127.0.0.1:${server.port}/orders`;
    const salt = Math.random().toString(36).slice(2, 10);
    let serial = 0;
    nextStamp = () => sign({ ip: '127.0.0.1', iat: Math.floor(Date.now() / 1000), jti: `${salt}-${(serial++).toString().padStart(16, '0')}`, htm: 'GET', htu });
  }
  const requests = (count) =>
    buildRequests({
      host: `127.0.0.1:${server.port}`,
      path: '/orders',
      count,
      headersOf: nextStamp ? () => ({ 'client-ip-attestation': nextStamp() }) : undefined,
    });
  return { variant, server, requests, expectRps: 20_000 };
}

async function window(t, seconds) {
  const requests = t.requests(Math.ceil(t.expectRps * seconds * 1.5) + 500);
  await t.server.ask('cpu-start');
  const run = await blast({ port: t.server.port, requests, duration: seconds });
  const { cpuMicros } = await t.server.ask('cpu-stop');
  if (run.errors > 0) throw new Error(`${t.variant}: ${run.errors} failed requests`);
  t.expectRps = Math.max(1_000, run.rps);
  return { cpuPerRequestUs: cpuMicros / run.ok, rps: run.rps };
}

/** `framework`: 'express' or 'hono'. Returns the rows and `ratios.<framework>_hs256_memory_vs_bare`. */
export async function measureFramework(framework, { quick = false } = {}) {
  pin(process.pid, 1);
  const keys = { hs256: { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' } };
  const bareVariant = `${framework}-bare`;
  // Hono: a control with one middleware that only calls next() — what any middleware costs a
  // Hono app (its compose path and an awaited response instead of the one-handler fast path) —
  // and ipstamp's handler form, which keeps that fast path
  const honoExtras = ['hono-noop-middleware', 'hono-ipstamp-hs256-memory-handler'];
  const variants = [bareVariant, `${framework}-ipstamp-hs256-memory`, ...(framework === 'hono' ? honoExtras : [])];
  const generations = quick ? 1 : 4;
  const rounds = quick ? 5 : 3;
  const seconds = quick ? 0.4 : 2;
  const samples = new Map(variants.map((v) => [v, []]));
  const afterIdle = new Map(variants.map((v) => [v, []]));
  const latencyPairs = [];
  for (let g = 0; g < generations; g++) {
    const servers = await Promise.all(variants.map((v) => startServer(framework, v, keys)));
    const targets = variants.map((v, i) => target(v, servers[i], keys, v !== bareVariant));
    try {
      for (const t of targets) for (let w = 0; w < 3; w++) await window(t, 0.4); // JIT and pools settle
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + r + g) % targets.length];
          // as in bench/http.js: the window after the idle spell, then the busy server's
          afterIdle.get(t.variant).push(await window(t, seconds));
          samples.get(t.variant).push(await window(t, seconds));
        }
      }
      // p99 for bare and ipstamp only (the first two), not for the control; every generation,
      // the figure the median over them (measure.js latencySummary)
      const slower = Math.min(...variants.slice(0, 2).map((v) => median(samples.get(v).map((x) => x.rps))));
      const rate = pacedRateFor(slower);
      const runs = [];
      for (const t of targets.slice(0, 2)) {
        const requests = t.requests(Math.ceil(rate * ((quick ? 1 : 3) + LEAD_IN_SECONDS)) + 10);
        const run = await withBusyShare(t.server, () => paced({ port: t.server.port, requests, rate, duration: quick ? 1 : 3 }));
        if (run.errors > 0) throw new Error(`${t.variant}: ${run.errors} failed requests at ${rate} req/s`);
        runs.push(run);
      }
      const [b, v] = runs;
      latencyPairs.push(latencyPair(rate, b, v));
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
  const bare = samples.get(bareVariant);
  const rows = {};
  for (const v of variants) {
    const s = samples.get(v);
    const ratios = bareOverVariantByRound(bare, s);
    rows[v] = {
      cpuPerRequestUs: median(s.map((x) => x.cpuPerRequestUs)),
      rps: median(s.map((x) => x.rps)),
      bareOverVariant: median(ratios),
      bareOverVariantByGeneration: medianPerChunk(ratios, rounds),
      bareOverVariantAfterIdle: median(bareOverVariantByRound(afterIdle.get(bareVariant), afterIdle.get(v))),
      cpuPerRequestUsAfterIdle: median(afterIdle.get(v).map((x) => x.cpuPerRequestUs)),
      rounds: s.length,
    };
  }
  const latency = latencySummary(latencyPairs);
  rows[variants[1]].latency = latency;
  return {
    rows,
    latency,
    ratios: {
      [`${framework}_hs256_memory_vs_bare`]: Number(rows[variants[1]].bareOverVariant.toFixed(3)),
      [`${framework}_hs256_memory_p99_over_bare`]: latency ? Number(latency.p99OverBare.toFixed(2)) : null,
      ...(rows['hono-noop-middleware'] ? { hono_noop_middleware_vs_bare: Number(rows['hono-noop-middleware'].bareOverVariant.toFixed(3)) } : {}),
      ...(rows['hono-ipstamp-hs256-memory-handler']
        ? { hono_hs256_memory_handler_vs_bare: Number(rows['hono-ipstamp-hs256-memory-handler'].bareOverVariant.toFixed(3)) }
        : {}),
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const framework = process.argv[2];
  if (framework !== 'express' && framework !== 'hono') {
    console.error('usage: node bench/frameworks.js express|hono [--quick]');
    process.exit(2);
  }
  const { rows, ratios } = await measureFramework(framework, { quick: process.argv.includes('--quick') });
  console.table(rows);
  console.log(JSON.stringify({ ratios }));
}
