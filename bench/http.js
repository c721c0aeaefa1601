/**
 * HTTP cost of ipstamp, measured honestly on 2 cores: every server is pinned to core 0 and the
 * load (this process) to core 1, and the figure that counts is the server's own CPU time per
 * answered request.
 *
 * - Load: bench/load.js, requests built before each window, 32 keep-alive connections each
 *   sending its next request when the answer is in. It outruns every server here, so each
 *   server runs saturated and batches as much as it can; a slow client would have charged the
 *   server per-wakeup costs it does not pay under real load.
 * - Noise: the servers of all variants run at once and take turns, two windows back to back
 *   each per round; a variant's ratio is the median over rounds of bare's CPU per request over
 *   the variant's in the same round, so drift of a noisy machine cancels out. The full run
 *   starts fresh processes several times (generations), so no one process's luck decides.
 * - Idleness: while the others take their turns a server idles for tens of seconds, and its
 *   next window costs it more — the more so the more it does per request. The figures are each
 *   turn's second window, a busy server's; the first is reported beside them (`...AfterIdle`).
 * - Latency: p99 at one fixed rate for bare and each variant, taken back to back in every
 *   generation: half the saturated rate of the slower of the two (bench/load.js paced). The
 *   figure is the median of the generations' ratios (measure.js latencySummary).
 */
import { stampSigner } from './sign-stamp.js';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { blast, buildRequests, LEAD_IN_SECONDS, paced } from './load.js';
import { bareOverVariantByRound, latencyPair, latencySummary, median, medianPerChunk, ofLimitByRound, pacedRateFor } from './measure.js';
import { forkBenchServer, pin, withBusyShare } from './processes.js';

async function makeKeys() {
  const hs = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
  // what a forger without the secret signs with: another secret under the same kid
  const forged = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
  const out = { hs256: hs, private: { hs256: hs, forged } };
  for (const [name, alg] of [
    ['es256', 'ES256'],
    ['eddsa', 'EdDSA'],
  ]) {
    const pair = await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    out[name] = { ...(await exportJWK(pair.publicKey)), kid: `bench-${name}`, alg };
    out.private[name] = { ...(await exportJWK(pair.privateKey)), kid: `bench-${name}`, alg };
  }
  return out;
}

/** Makes fresh, distinct stamps for one server (each is good once), as many as asked each time. */
function stampMaker(jwk, port) {
  const signStamp = stampSigner(jwk);
  const htu = `http://127.0.0.1:${port}/orders`;
  const salt = Math.random().toString(36).slice(2, 10);
  let serial = 0;
  return () => signStamp({ ip: '127.0.0.1', iat: Math.floor(Date.now() / 1000), jti: `${salt}-${(serial++).toString().padStart(16, '0')}`, htm: 'GET', htu });
}

async function startServer(variant, keys, redisUrl) {
  const serverVariant = REFUSALS[variant] ? 'ipstamp-hs256-memory' : variant;
  return forkBenchServer(new URL('./http-server.js', import.meta.url), [serverVariant, JSON.stringify(keys), redisUrl ?? '']);
}

/** The stamp header each request of a refusal load carries (none for a stampless one). */
function refusalStamps(kind, keys, port) {
  if (kind === 'stampless') return undefined;
  if (kind === 'forged') return stampMaker(keys.private.forged, port);
  const replayed = stampMaker(keys.private.hs256, port)();
  return () => replayed;
}

/**
 * Controls for a profiling session (--only), not part of the figures: bare Fastify receiving
 * the same stamp headers it ignores, and bare Fastify after building one small zod schema it
 * never uses — which costs it ~1.4 µs CPU on every request on Node 20 (12.9 against 11.5 µs for
 * bare-stamped, six generations; #16's bisection — why is V8's business, but it is why no
 * server entry builds a schema); and bare Fastify whose route reads one header (bare-headers),
 * which makes Node build the request's headers object, as ipstamp's first read of a header does.
 * And two that split ipstamp's cost between the plugin and the verifier core: the plugin with
 * verification switched off on the route (ipstamp-off), and the core alone in one bare hook
 * (core-hook-hs256; bench/README.md, "Eleventh pass"). And the pair behind the twelfth pass: bare
 * Fastify after full collections at idle (bare-idle-gc), which leave every later nextTick in
 * V8's runtime, and the same with a tick object kept first, as ipstamp's adapters do
 * (bare-idle-gc-kept; server/runtime/tick-shapes.ts). And ipstamp-idle-gc: ipstamp-hs256-memory
 * after the same collections, to find any other path of ours or Fastify's that a quiet spell
 * leaves slow (bench/README.md, "Thirteenth pass"; the fourteenth found none: the runs that
 * stayed slow were on a host that had slowed down).
 */
const CONTROLS = ['bare-stamped', 'bare-zod-schema', 'bare-headers', 'ipstamp-off', 'core-hook-hs256', 'bare-idle-gc', 'bare-idle-gc-kept', 'ipstamp-idle-gc'];

/**
 * Floors, in the full run: bare Fastify plus one hook that checks the stamp's signature with
 * node:crypto and does nothing else. The primitive costs more inside a busy server than in the
 * core bench's tight loop, and no verifier on this stack can cost less than it; run.js sets
 * the goals' budgets against them. No p99 for these: they are yardsticks, not variants.
 */
const FLOORS = ['signature-floor-hs256', 'signature-floor-es256'];

/**
 * Refusals, in the full run: an ipstamp-hs256-memory server sent only requests it must refuse
 * with 401, each kind in its own server process — stamps signed with another secret under the
 * right kid (bad-signature), one stamp sent over and over (replay: its first answer, the one
 * acceptance, counts among the window's few allowed failures), and no stamp at all (missing,
 * refused in preParsing). CPU per refusal, against bare and against an acceptance: what a
 * flood of forgeries costs the server it is aimed at. No p99 for these.
 */
const REFUSALS = { 'refused-forged': 'forged', 'refused-replayed': 'replayed', 'refused-stampless': 'stampless' };

const STAMPED = {
  'bare-stamped': 'hs256',
  'bare-zod-schema': 'hs256',
  'bare-headers': 'hs256',
  'signature-floor-hs256': 'hs256',
  'signature-floor-es256': 'es256',
  'ipstamp-hs256-memory': 'hs256',
  'ipstamp-es256-memory': 'es256',
  'ipstamp-hs256-redis': 'hs256',
  'ipstamp-hs256-redis-autopipeline': 'hs256',
  'naive-jose-hs256': 'hs256',
  'ipstamp-off': 'hs256',
  'core-hook-hs256': 'hs256',
  'bare-idle-gc': 'hs256',
  'bare-idle-gc-kept': 'hs256',
  'ipstamp-idle-gc': 'hs256',
};

/** One server and what it takes to load it: its requests come from here, built before each window. */
function target(variant, server, keys) {
  const alg = STAMPED[variant];
  const refusal = REFUSALS[variant];
  const nextStamp = refusal ? refusalStamps(refusal, keys, server.port) : alg ? stampMaker(keys.private[alg], server.port) : undefined;
  const requests = (count) =>
    buildRequests({
      host: `127.0.0.1:${server.port}`,
      path: '/orders',
      count,
      headersOf: nextStamp ? () => ({ 'client-ip-attestation': nextStamp() }) : undefined,
    });
  return { variant, server, requests, nextStamp, expectRps: alg === 'es256' ? 8_000 : 30_000, expectStatus: refusal ? 401 : undefined };
}

/** One window: the server's CPU per answered request (µs) and its rate. Failed answers fail the bench. */
async function window(t, seconds, { warmUp = false } = {}) {
  // enough requests for the window at 1.5× the rate seen so far; running out only ends it early
  const requests = t.requests(Math.ceil(t.expectRps * seconds * 1.5) + 500);
  await t.server.ask('cpu-start');
  const run = await blast({ port: t.server.port, requests, duration: seconds, expectStatus: t.expectStatus });
  const { cpuMicros } = await t.server.ask('cpu-stop');
  // A loaded machine can push a Redis answer past the store's deadline (a 503, as designed):
  // a few are recorded, not fatal; more means the figure would not be about answered requests.
  // (warm-up windows are not measured: a cold Redis client on a loaded machine may miss a few there)
  if (!warmUp && run.errors > Math.max(5, run.ok * 0.005)) throw new Error(`${t.variant}: ${run.errors} failed requests`);
  t.expectRps = Math.max(1_000, run.rps);
  return { cpuPerRequestUs: cpuMicros / run.ok, rps: run.rps, errors: run.errors };
}

/**
 * Latency at a fixed rate (bench/load.js paced: fresh stamps, latency from when each request
 * was due). The rate is set by the caller: half the saturated rate of the slower of the two
 * variants compared, so both run well below saturation and the figure is about the request,
 * not the queue.
 */
async function latencyAt(t, rate, seconds) {
  const requests = t.requests(Math.ceil(rate * (seconds + LEAD_IN_SECONDS)) + 10);
  const result = await withBusyShare(t.server, () => paced({ port: t.server.port, requests, rate, duration: seconds }));
  // the same allowance as a window: a few Redis answers past the store's deadline are 503s by design
  if (result.errors > Math.max(5, result.answered * 0.005)) throw new Error(`${t.variant}: ${result.errors} failed requests at ${rate} req/s`);
  return result;
}

/** Starts every variant's server at once. */
async function startGeneration(variants, keys, redisUrl) {
  const servers = await Promise.all(variants.map((v) => startServer(v, keys, redisUrl)));
  return variants.map((v, i) => target(v, servers[i], keys));
}

/**
 * A fresh process needs about a second of load before its CPU per request settles (JIT,
 * compiler threads, pools); the last warm-up window also sets the rate estimate.
 */
async function warmUp(targets, seconds) {
  for (const t of targets) for (let w = 0; w < seconds / 0.4; w++) await window(t, 0.4, { warmUp: true });
}

export async function measureHttp({ quick = false, redisUrl, only, generations: generationsArg, latency = true } = {}) {
  pin(process.pid, 1);
  const keys = await makeKeys();
  let variants = [...FLOORS, 'bare', 'trust-proxy', 'ipstamp-hs256-memory', ...Object.keys(REFUSALS), 'ipstamp-es256-memory', 'naive-jose-hs256'];
  if (redisUrl) variants.push('ipstamp-hs256-redis', 'ipstamp-hs256-redis-autopipeline');
  // a profiling session's shortcut (node bench/http.js --only a,b): bare is always kept, and
  // the controls below run only when named
  if (only) variants = [...variants, ...CONTROLS].filter((v) => v === 'bare' || only.includes(v));
  // Fresh server processes every generation: one process can run a fifth slower than its twin
  // for its whole life (JIT and memory layout luck), which a median over processes absorbs.
  const generations = generationsArg ?? (quick ? 1 : 4);
  const roundsPerGeneration = quick ? 5 : 3;
  const seconds = quick ? 0.4 : 2;
  const samples = new Map(variants.map((v) => [v, []]));
  const afterIdle = new Map(variants.map((v) => [v, []]));
  const p99 = new Map();
  // ES256's limit needs one raw verify's CPU from the same host state as the windows it is set
  // against: the host has slow spells of seconds to minutes, and the core bench runs ~20 minutes
  // before these (run S read 0.97 of a limit priced on a slow core phase). So the bare server
  // times the raw pipeline on its own core after each of its windows.
  const rawEs256VerifyUs = [];
  const pricesEs256 = variants.includes('ipstamp-es256-memory');
  for (let g = 0; g < generations; g++) {
    const targets = await startGeneration(variants, keys, redisUrl);
    try {
      await warmUp(targets, 1.2);
      for (let r = 0; r < roundsPerGeneration; r++) {
        // rotate who goes first, so no variant always follows the same neighbour
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + r + g) % targets.length];
          // two windows back to back: the first pays for the idle spell while the others took
          // their turns, the second is the busy server the goals are about (bench/README.md,
          // "Ninth pass"); both are reported
          afterIdle.get(t.variant).push(await window(t, seconds));
          samples.get(t.variant).push(await window(t, seconds));
          if (pricesEs256 && t.variant === 'bare') rawEs256VerifyUs.push((await t.server.ask('raw-es256-verify')).cpuMicrosPerVerify);
        }
      }
      if (latency) {
        const bareTarget = targets.find((t) => t.variant === 'bare');
        for (const t of targets) {
          if (t === bareTarget || FLOORS.includes(t.variant) || REFUSALS[t.variant]) continue;
          // the rate both are held to: half the slower one's saturated rate, as measured so far
          const slower = Math.min(median(samples.get('bare').map((x) => x.rps)), median(samples.get(t.variant).map((x) => x.rps)));
          const rate = pacedRateFor(slower);
          const seconds = quick ? 1 : 3;
          const bareLatency = await latencyAt(bareTarget, rate, seconds);
          const variantLatency = await latencyAt(t, rate, seconds);
          if (!p99.has(t.variant)) p99.set(t.variant, []);
          p99.get(t.variant).push(latencyPair(rate, bareLatency, variantLatency));
        }
      }
    } finally {
      await Promise.all(targets.map((t) => t.server.stop()));
    }
  }

  const bare = samples.get('bare');
  const out = {};
  for (const v of variants) {
    const s = samples.get(v);
    const ratios = bareOverVariantByRound(bare, s);
    out[v] = {
      cpuPerRequestUs: median(s.map((x) => x.cpuPerRequestUs)),
      rps: median(s.map((x) => x.rps)),
      // p99 at one fixed rate, this variant and bare back to back, every generation (absent for bare itself)
      latency: p99.has(v) ? latencySummary(p99.get(v)) : undefined,
      // per round, then the median
      bareOverVariant: median(ratios),
      // the same, per generation (fresh processes each): how far one generation's luck goes
      bareOverVariantByGeneration: medianPerChunk(ratios, roundsPerGeneration),
      // the window right after the server idled through the other variants' turns
      bareOverVariantAfterIdle: median(bareOverVariantByRound(afterIdle.get('bare'), afterIdle.get(v))),
      cpuPerRequestUsAfterIdle: median(afterIdle.get(v).map((x) => x.cpuPerRequestUs)),
      rounds: s.length,
      failedRequests: s.reduce((sum, x) => sum + x.errors, 0),
    };
  }
  if (pricesEs256) {
    const ofLimit = ofLimitByRound(bare, samples.get('ipstamp-es256-memory'), rawEs256VerifyUs);
    Object.assign(out['ipstamp-es256-memory'], {
      // one raw node:crypto ES256 pipeline (bench/raw-pipeline.js) in the bare server, per round
      rawVerifyUs: median(rawEs256VerifyUs),
      // bare ÷ variant over bare ÷ (bare + raw verify), per round, then the median
      ofLimit: median(ofLimit),
      ofLimitByGeneration: medianPerChunk(ofLimit, roundsPerGeneration),
    });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? process.argv[onlyAt + 1].split(',') : undefined;
  const generationsAt = process.argv.indexOf('--generations');
  const result = await measureHttp({
    quick: process.argv.includes('--quick'),
    redisUrl: process.env.IPSTAMP_BENCH_REDIS,
    only,
    generations: generationsAt > 0 ? Number(process.argv[generationsAt + 1]) : undefined,
    latency: !process.argv.includes('--no-latency'),
  });
  // every generation's ratio in full (console.table cuts an array after three)
  const shown = Object.fromEntries(
    Object.entries(result).map(([name, row]) => [name, { ...row, bareOverVariantByGeneration: row.bareOverVariantByGeneration?.join(' ') }]),
  );
  console.table(shown);
}
