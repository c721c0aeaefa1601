/**
 * `npm run bench` (full, about half an hour on the 2-core host) or `npm run bench -- --quick` (a few minutes).
 * Every ratio compares figures taken in this same run. Writes bench/results.json and prints a table.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { measureClient } from './client.js';
import { measureCore, measureCoreInProcesses } from './core.js';
import { measureFramework } from './frameworks.js';
import { measureHttp } from './http.js';
import { fmt } from './measure.js';
import { measureMemoryStore } from './memory-store.js';
import { measureParsers } from './parsers.js';
import { measureRedisTopologies } from './redis-cluster.js';
import { redisRoundTripUs, startRedis } from './redis.js';
import { measureWeb } from './web.js';

const quick = process.argv.includes('--quick');
const started = Date.now();
const log = (message) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${message}\n`);

// other work on the machine shows in every absolute figure (same-run ratios absorb most of it)
const loadAtStart = loadavg();
const redis = await startRedis();
if (!redis) log('redis-server not installed: Redis figures are skipped');
try {
  log('verifier core…');
  // quick: one process; full: the median of three (see measureCoreInProcesses)
  const core = quick ? await measureCore({ quick }) : await measureCoreInProcesses({ quick, processes: 3 });
  log('ipstamp/web against the Node core…');
  const web = await measureWeb({ quick });
  log('stores…');
  const memory = await measureMemoryStore({ entries: 1_000_000 });
  const redisRoundTrip = redis ? await redisRoundTripUs(redis.url, quick ? 1_000 : 5_000) : undefined;
  log('parsers…');
  const parsers = measureParsers({ quick });
  log('client…');
  const client = await measureClient({ quick });
  log('HTTP (server pinned to core 0, load to core 1)…');
  const http = await measureHttp({ quick, redisUrl: redis?.url });
  log('Express and Hono (same method: bare against ipstamp HS256 + memory store)…');
  const express = await measureFramework('express', { quick });
  const hono = await measureFramework('hono', { quick });
  log('Redis Sentinel/Cluster and WAIT variants…');
  const topologies = redis ? await measureRedisTopologies({ quick }) : undefined;

  // ES256 is bounded by its signature: bare's CPU per request over bare's plus one raw
  // node:crypto ES256 verify is the best ratio any ES256 verifier could reach. The verify is
  // timed in the bare server, in each round of the HTTP windows (http.js); the core bench's
  // figure, ~20 minutes earlier and off the server's core, is kept beside it for comparison.
  const es256 = http['ipstamp-es256-memory'];
  const es256Limit = http.bare.cpuPerRequestUs / (http.bare.cpuPerRequestUs + es256.rawVerifyUs);
  const es256LimitFromCore = http.bare.cpuPerRequestUs / (http.bare.cpuPerRequestUs + 1e6 / core.ES256.raw);
  // What each goal leaves for ipstamp's own work beside the signature, in µs of server CPU per
  // request: a same-run ratio r means bare ÷ r per request, that is bare·(1/r − 1) over bare.
  // The floors (http.js) price the signature where it runs, inside the busy server.
  const HS256_MEMORY_GOAL = 0.65;
  const ES256_OF_LIMIT_GOAL = 0.9;
  const overBareUs = (ratio) => http.bare.cpuPerRequestUs * (1 / ratio - 1);
  const budget = (goalRatio, floorRow, variantRow) =>
    floorRow && {
      goalAllowsUs: overBareUs(goalRatio),
      signatureUs: overBareUs(floorRow.bareOverVariant),
      ipstampUs: overBareUs(variantRow.bareOverVariant),
      otherWorkUs: overBareUs(variantRow.bareOverVariant) - overBareUs(floorRow.bareOverVariant),
      otherWorkAllowedUs: overBareUs(goalRatio) - overBareUs(floorRow.bareOverVariant),
    };
  const budgets = {
    hs256: budget(HS256_MEMORY_GOAL, http['signature-floor-hs256'], http['ipstamp-hs256-memory']),
    es256: budget(ES256_OF_LIMIT_GOAL * es256Limit, http['signature-floor-es256'], es256),
  };
  const p99Over = (row) => (row?.latency ? Number(row.latency.p99OverBare.toFixed(2)) : null);
  // a refusal's cost as a share of an acceptance's, from the two same-run ratios to bare: above
  // 1, refusing costs the server less than accepting (http.js REFUSALS)
  const ofAccepted = (row) => (row ? row.bareOverVariant / http['ipstamp-hs256-memory'].bareOverVariant : null);

  const results = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadAverage: { start: loadAtStart.map((x) => Number(x.toFixed(2))), end: loadavg().map((x) => Number(x.toFixed(2))) },
    },
    node: process.version,
    core,
    stores: { memory, redisRoundTripUs: redisRoundTrip },
    parsers,
    client: { stampsPerSecond: client },
    web: web.web,
    http,
    frameworks: { express: express.rows, hono: hono.rows },
    redisTopologies: topologies ?? null,
    budgets,
    ratios: {
      core_hs256_vs_raw: core.HS256.ratioVsRaw,
      core_es256_vs_raw: core.ES256.ratioVsRaw,
      core_eddsa_vs_raw: core.EdDSA.ratioVsRaw,
      web_hs256_vs_node: web.ratios.web_hs256_vs_node,
      web_es256_vs_node: web.ratios.web_es256_vs_node,
      http_hs256_memory_vs_bare: http['ipstamp-hs256-memory'].bareOverVariant,
      http_hs256_redis_vs_bare: http['ipstamp-hs256-redis']?.bareOverVariant ?? null,
      http_hs256_redis_autopipeline_vs_bare: http['ipstamp-hs256-redis-autopipeline']?.bareOverVariant ?? null,
      http_hs256_cluster_vs_bare: topologies?.ratios.http_hs256_cluster_vs_bare ?? null,
      http_hs256_cluster_wait1_vs_bare: topologies?.ratios.http_hs256_cluster_wait1_vs_bare ?? null,
      http_hs256_redis_wait1_vs_bare: topologies?.ratios.http_hs256_redis_wait1_vs_bare ?? null,
      http_hs256_redis_replicated_vs_bare: topologies?.ratios.http_hs256_redis_replicated_vs_bare ?? null,
      http_es256_memory_vs_bare: es256.bareOverVariant,
      http_es256_memory_limit: es256Limit,
      // per round, then the median (http.js ofLimit); the limit above is from the medians
      http_es256_memory_of_limit: es256.ofLimit,
      http_es256_memory_limit_from_core: es256LimitFromCore,
      http_hs256_signature_floor_vs_bare: http['signature-floor-hs256']?.bareOverVariant ?? null,
      http_es256_signature_floor_vs_bare: http['signature-floor-es256']?.bareOverVariant ?? null,
      // the limit priced where the verify runs: ipstamp ES256 over the in-server floor
      http_es256_memory_of_floor: http['signature-floor-es256'] ? es256.bareOverVariant / http['signature-floor-es256'].bareOverVariant : null,
      express_hs256_memory_vs_bare: express.ratios.express_hs256_memory_vs_bare,
      hono_hs256_memory_vs_bare: hono.ratios.hono_hs256_memory_vs_bare,
      hono_noop_middleware_vs_bare: hono.ratios.hono_noop_middleware_vs_bare ?? null,
      // the handler form (`stamp.handler(fn)`): no goal of its own, reported beside the middleware's
      hono_hs256_memory_handler_vs_bare: hono.ratios.hono_hs256_memory_handler_vs_bare ?? null,
      // each turn's first window, right after the server idled through the others' turns
      // (bench/http.js): what these ratios read before the ninth pass counted the second window
      http_hs256_memory_after_idle_vs_bare: http['ipstamp-hs256-memory'].bareOverVariantAfterIdle ?? null,
      http_hs256_redis_after_idle_vs_bare: http['ipstamp-hs256-redis']?.bareOverVariantAfterIdle ?? null,
      express_hs256_memory_after_idle_vs_bare: express.rows['express-ipstamp-hs256-memory']?.bareOverVariantAfterIdle ?? null,
      hono_hs256_memory_after_idle_vs_bare: hono.rows['hono-ipstamp-hs256-memory']?.bareOverVariantAfterIdle ?? null,
      http_hs256_memory_p99_over_bare: p99Over(http['ipstamp-hs256-memory']),
      http_es256_memory_p99_over_bare: p99Over(es256),
      http_hs256_redis_p99_over_bare: p99Over(http['ipstamp-hs256-redis']),
      express_hs256_memory_p99_over_bare: express.ratios.express_hs256_memory_p99_over_bare,
      hono_hs256_memory_p99_over_bare: hono.ratios.hono_hs256_memory_p99_over_bare,
      memory_store_bytes_per_entry: memory.memoryStore.bytesPerEntry,
      http_refused_forged_vs_bare: http['refused-forged']?.bareOverVariant ?? null,
      http_refused_replayed_vs_bare: http['refused-replayed']?.bareOverVariant ?? null,
      http_refused_stampless_vs_bare: http['refused-stampless']?.bareOverVariant ?? null,
      http_refused_forged_of_accepted: ofAccepted(http['refused-forged']),
      http_refused_replayed_of_accepted: ofAccepted(http['refused-replayed']),
      http_refused_stampless_of_accepted: ofAccepted(http['refused-stampless']),
    },
    goals: {
      core_hs256_vs_raw: '>= 0.75',
      core_es256_vs_raw: '>= 0.85',
      core_eddsa_vs_raw: '>= 0.85',
      http_hs256_memory_vs_bare: `>= ${HS256_MEMORY_GOAL}`,
      http_hs256_redis_vs_bare: '>= 0.45',
      http_es256_memory_of_limit: `>= ${ES256_OF_LIMIT_GOAL}`,
      express_hs256_memory_vs_bare: '>= 0.65',
      hono_hs256_memory_vs_bare: '>= 0.65',
      http_hs256_memory_p99_over_bare: '<= 2',
      http_es256_memory_p99_over_bare: '<= 2',
      http_hs256_redis_p99_over_bare: '<= 2',
      express_hs256_memory_p99_over_bare: '<= 2',
      hono_hs256_memory_p99_over_bare: '<= 2',
      memory_store_bytes_per_entry: '<= 64',
      // a flood of forgeries or of stampless requests costs the server no more than its own
      // clients do (a replay does all an acceptance does, and then refuses: no goal)
      http_refused_forged_of_accepted: '>= 1',
      http_refused_stampless_of_accepted: '>= 1',
    },
  };
  writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

  const met = (key) => {
    const value = results.ratios[key];
    if (value === null) return 'n/a';
    const [op, target] = results.goals[key].split(' ');
    return (op === '>=' ? value >= Number(target) : value <= Number(target)) ? 'met' : 'NOT met';
  };
  console.log(
    `\nipstamp bench (${results.mode}) — ${results.machine.model}, ${results.machine.cpus} cores, Node ${results.node}, load average ${results.machine.loadAverage.start[0]} → ${results.machine.loadAverage.end[0]}\n`,
  );
  console.log('| figure | ipstamp | baseline | ratio | goal |');
  console.log('|---|---|---|---|---|');
  for (const alg of ['HS256', 'ES256', 'EdDSA']) {
    const key = `core_${alg.toLowerCase()}_vs_raw`;
    console.log(
      `| core ${alg} verify/s (1 core) | ${fmt(core[alg].ipstamp)} | raw node:crypto ${fmt(core[alg].raw)} (jose ${fmt(core[alg].jose)}) | ${fmt(core[alg].ratioVsRaw, 2)} | ${results.goals[key]} ${met(key)} |`,
    );
  }
  console.log(
    `| ipstamp/web verify/s on Node, HS256 / ES256 | WebCrypto | node:crypto core (same inputs) | ${fmt(results.ratios.web_hs256_vs_node, 2)} / ${fmt(results.ratios.web_es256_vs_node, 2)} | — |`,
  );
  // the p99 with how busy the server's core was at that rate: a p99 is mostly queueing, and
  // queueing grows with the busy share long before saturation; and what of the p99 was spent
  // in the load before the request went out, and of that waiting for a free connection
  // (load.js paced: queuedP99Ms, connectionWaitP99Ms)
  const latencyText = (l, which) => {
    if (!l) return 'p99 n/a';
    const [p99, queued, forConnection, busy] =
      which === 'bare' ? [l.bareP99Ms, l.bareQueuedP99Ms, l.bareConnectionWaitP99Ms, l.bareBusy] : [l.p99Ms, l.queuedP99Ms, l.connectionWaitP99Ms, l.busy];
    const inLoad = queued === undefined ? '' : ` (in the load ${fmt(queued, 1)} ms, for a connection ${fmt(forConnection, 1)} ms)`;
    return `p99 @${fmt(l.rate)}/s ${fmt(p99, 1)} ms${inLoad}, core ${busy === undefined ? '?' : fmt(busy * 100)}% busy`;
  };
  // each generation's ratio beside their median (measure.js latencySummary, medianPerChunk)
  // load.js paced: the window's first half second, outside the figure, shown beside it
  const leadIn = (l) => (l?.leadInP99OverBare === undefined ? '' : `, lead-in ${fmt(l.leadInP99OverBare, 2)}× (not in the figure)`);
  const byGeneration = (values) => (values?.length > 1 ? ` (generations: ${values.map((r) => fmt(r, 2)).join(' / ')})` : '');
  // bench/http.js: each turn's first window, right after the server idled, outside the figure
  const afterIdle = (row) => (row?.bareOverVariantAfterIdle === undefined ? '' : `, right after idling ${fmt(row.bareOverVariantAfterIdle, 2)}`);
  for (const [variant, key, p99Key] of [
    ['ipstamp-hs256-memory', 'http_hs256_memory_vs_bare', 'http_hs256_memory_p99_over_bare'],
    ['ipstamp-es256-memory', null, 'http_es256_memory_p99_over_bare'],
    ['ipstamp-hs256-redis', 'http_hs256_redis_vs_bare', 'http_hs256_redis_p99_over_bare'],
    ['ipstamp-hs256-redis-autopipeline', null, null],
    ['signature-floor-hs256', null, null],
    ['signature-floor-es256', null, null],
    ['naive-jose-hs256', null, null],
    ['trust-proxy', null, null],
  ]) {
    const h = http[variant];
    if (!h) continue;
    const goal = key
      ? `${results.goals[key]} ${met(key)}${byGeneration(h.bareOverVariantByGeneration)}${afterIdle(h)}`
      : variant === 'ipstamp-es256-memory'
        ? `limit ${fmt(es256Limit, 3)} (raw verify ${fmt(h.rawVerifyUs, 1)} µs in the bare server; ${fmt(es256LimitFromCore, 3)} from the core bench's): ${fmt(results.ratios.http_es256_memory_of_limit, 2)} of it, ${results.goals.http_es256_memory_of_limit} ${met('http_es256_memory_of_limit')}${byGeneration(h.ofLimitByGeneration)} (of the in-server floor: ${fmt(results.ratios.http_es256_memory_of_floor ?? NaN, 2)})`
        : '—';
    const p99 =
      p99Key && results.ratios[p99Key] !== null
        ? `; p99 ${fmt(results.ratios[p99Key], 2)}× bare${byGeneration(h.latency?.perGeneration)}, ${results.goals[p99Key]} ${met(p99Key)}${leadIn(h.latency)}`
        : '';
    console.log(
      `| HTTP ${variant}: server CPU/request | ${fmt(h.cpuPerRequestUs, 1)} µs (${fmt(h.rps)} req/s saturated, ${latencyText(h.latency)}) | bare ${fmt(http.bare.cpuPerRequestUs, 1)} µs (${fmt(http.bare.rps)} req/s, ${latencyText(h.latency, 'bare')}) | ${fmt(h.bareOverVariant, 2)} | ${goal}${p99} |`,
    );
  }
  for (const [variant, reason, key] of [
    ['refused-forged', 'bad-signature', 'http_refused_forged_of_accepted'],
    ['refused-replayed', 'replay', 'http_refused_replayed_of_accepted'],
    ['refused-stampless', 'missing', 'http_refused_stampless_of_accepted'],
  ]) {
    const h = http[variant];
    if (!h) continue;
    const goal = results.goals[key] ? `${results.goals[key]} ${met(key)}` : 'no goal';
    console.log(
      `| HTTP ${variant} (401 ${reason}): server CPU/refusal | ${fmt(h.cpuPerRequestUs, 1)} µs (${fmt(h.rps)} refusals/s saturated) | bare ${fmt(http.bare.cpuPerRequestUs, 1)} µs, an acceptance ${fmt(http['ipstamp-hs256-memory'].cpuPerRequestUs, 1)} µs | ${fmt(h.bareOverVariant, 2)} | of an acceptance ${fmt(results.ratios[key], 2)}, ${goal}${byGeneration(h.bareOverVariantByGeneration)} |`,
    );
  }
  for (const [name, rows, bareKey, variantKey, key, p99Key] of [
    ['Express 5', express.rows, 'express-bare', 'express-ipstamp-hs256-memory', 'express_hs256_memory_vs_bare', 'express_hs256_memory_p99_over_bare'],
    ['Hono', hono.rows, 'hono-bare', 'hono-ipstamp-hs256-memory', 'hono_hs256_memory_vs_bare', 'hono_hs256_memory_p99_over_bare'],
  ]) {
    const v = rows[variantKey];
    const b = rows[bareKey];
    console.log(
      `| ${name} ipstamp-hs256-memory: server CPU/request | ${fmt(v.cpuPerRequestUs, 1)} µs (${latencyText(v.latency)}) | bare ${fmt(b.cpuPerRequestUs, 1)} µs (${latencyText(v.latency, 'bare')}) | ${fmt(results.ratios[key], 2)} | ${results.goals[key]} ${met(key)}${byGeneration(v.bareOverVariantByGeneration)}${afterIdle(v)}; p99 ${fmt(results.ratios[p99Key] ?? NaN, 2)}× bare${byGeneration(v.latency?.perGeneration)}, ${results.goals[p99Key]} ${met(p99Key)}${leadIn(v.latency)} |`,
    );
  }
  for (const [alg, b] of Object.entries(budgets)) {
    if (!b) continue;
    console.log(
      `| ${alg.toUpperCase()} budget: µs over bare per request | ipstamp ${fmt(b.ipstampUs, 1)}: a hook that only checks the signature ${fmt(b.signatureUs, 1)}, everything else ${fmt(b.otherWorkUs, 1)} | the goal allows ${fmt(b.goalAllowsUs, 1)}, so ${fmt(b.otherWorkAllowedUs, 1)} beside the signature | | ${b.otherWorkUs <= b.otherWorkAllowedUs ? 'within' : 'OVER'} |`,
    );
  }
  if (hono.rows['hono-noop-middleware']) {
    const n = hono.rows['hono-noop-middleware'];
    console.log(
      `| Hono control: one no-op middleware | ${fmt(n.cpuPerRequestUs, 1)} µs | bare ${fmt(hono.rows['hono-bare'].cpuPerRequestUs, 1)} µs | ${fmt(hono.ratios.hono_noop_middleware_vs_bare, 2)} | what any middleware costs |`,
    );
  }
  if (hono.rows['hono-ipstamp-hs256-memory-handler']) {
    const h = hono.rows['hono-ipstamp-hs256-memory-handler'];
    console.log(
      `| Hono ipstamp-hs256-memory, handler form: server CPU/request | ${fmt(h.cpuPerRequestUs, 1)} µs | bare ${fmt(hono.rows['hono-bare'].cpuPerRequestUs, 1)} µs | ${fmt(hono.ratios.hono_hs256_memory_handler_vs_bare, 2)} | no middleware dispatch${byGeneration(h.bareOverVariantByGeneration)} |`,
    );
  }
  if (topologies?.ratios) {
    const r = topologies.ratios;
    console.log(
      `| HTTP HS256 on Redis topologies: bare ÷ ipstamp | Cluster ${fmt(r.http_hs256_cluster_vs_bare, 2)}, Cluster+WAIT 1 ${fmt(r.http_hs256_cluster_wait1_vs_bare, 2)} | one Redis with a replica ${fmt(r.http_hs256_redis_replicated_vs_bare, 2)}, +WAIT 1 ${fmt(r.http_hs256_redis_wait1_vs_bare, 2)} | | — |`,
    );
  }
  console.log(
    `| memory store bytes/live entry @1M | ${fmt(memory.memoryStore.bytesPerEntry, 1)} | Map ${fmt(memory.map.bytesPerEntry, 1)} | ${fmt(memory.mapToMemoryBytesRatio, 1)}x smaller | <= 64 ${met('memory_store_bytes_per_entry')} |`,
  );
  console.log(`| memory store inserts/s | ${fmt(memory.memoryStore.insertsPerSecond)} | Map ${fmt(memory.map.insertsPerSecond)} | | |`);
  if (redisRoundTrip !== undefined) console.log(`| Redis SET NX PX round trip | ${fmt(redisRoundTrip, 1)} µs median | | | |`);
  console.log(`| PROXY v2 parse (HAProxy capture) | ${fmt(parsers.proxyV2ParseNs)} ns/header | | | |`);
  console.log(`| XFF walk / Forwarded walk (3 hops) | ${fmt(parsers.xffWalkNs)} / ${fmt(parsers.forwardedWalkNs)} ns/header | | | |`);
  console.log(`| client stamps/s HS256 / ES256 / EdDSA | ${fmt(client.HS256)} / ${fmt(client.ES256)} / ${fmt(client.EdDSA)} | | | |`);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s; figures in bench/results.json)`);
} finally {
  redis?.stop();
}
