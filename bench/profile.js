/**
 * Where a bench server spends its CPU: starts one server of bench/http.js (or of
 * bench/frameworks.js), loads it with bench/load.js the same way the bench does, and prints
 * where the time went, per answered request.
 *
 * - Default: under `node --cpu-prof`, the functions with the most self time, and the same
 *   grouped by file. V8's profiler samples wall time and inflates small frames: compare
 *   variants, not absolute figures.
 * - `--native`: under `perf` (bench/native-profile.js), the variant and its framework's bare
 *   server recorded together and loaded in turns, each sample charged to its nearest JavaScript
 *   frame, and the difference: what the variant adds to a bare request, in µs that add up to
 *   its CPU.
 *
 *   npm run build && node bench/profile.js ipstamp-hs256-memory [seconds] [--out dir]
 *   node bench/profile.js express:express-ipstamp-hs256-memory
 *   node bench/profile.js hono:hono-ipstamp-hs256-memory --native
 *   node bench/profile.js bare-idle-gc-kept --native --against bare --settle 10
 *
 * `--against NAME`: the baseline of `--native` (default bare). `--settle S`: the servers sit
 * idle S seconds after start, before any load (the *-idle-gc variants' collections run then).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { blast, buildRequests } from './load.js';
import { attributeNative, partOf, recordNative } from './native-profile.js';
import { forkBenchServer, pin } from './processes.js';
import { stampSigner } from './sign-stamp.js';

const [spec = 'ipstamp-hs256-memory', secondsArg = '5'] = process.argv.slice(2).filter((a) => !a.startsWith('--') && !isOptionValue(a));
const valueOf = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const against = valueOf('--against', 'bare');
const settleSeconds = Number(valueOf('--settle', '0'));
const outAt = process.argv.indexOf('--out');
const dir = outAt > 0 ? process.argv[outAt + 1] : mkdtempSync(join(tmpdir(), 'ipstamp-prof-'));
const native = process.argv.includes('--native');
const [framework, variant] = spec.includes(':') ? spec.split(':') : ['http', spec];
const seconds = Number(secondsArg);

function isOptionValue(arg) {
  return ['--out', '--against', '--settle'].includes(process.argv[process.argv.indexOf(arg) - 1]);
}

const hs = { ...(await exportJWK(await generateSecret('HS256', { extractable: true }))), kid: 'bench-hs', alg: 'HS256' };
const pair = await generateKeyPair('ES256', { extractable: true });
const es = { ...(await exportJWK(pair.publicKey)), kid: 'bench-es256', alg: 'ES256' };
const esPrivate = { ...(await exportJWK(pair.privateKey)), kid: 'bench-es256', alg: 'ES256' };
const keys = { hs256: hs, es256: es, eddsa: es, private: { hs256: hs, es256: esPrivate } };

const script = new URL(framework === 'http' ? './http-server.js' : `./${framework}-server.js`, import.meta.url);
pin(process.pid, 1);

/**
 * Starts one server of `script` under `execArgv`, pinned to core 0. `window()` loads it for a
 * second as the bench does and answers the requests and the server's CPU time; `stop()` ends it.
 */
async function startServer(name, execArgv) {
  const { pid, port, ask, stop } = await forkBenchServer(script, [name, JSON.stringify(keys), process.env.IPSTAMP_BENCH_REDIS ?? ''], { execArgv });
  const alg = name.includes('es256') ? 'es256' : 'hs256';
  const signed = name.includes('ipstamp') || name.includes('jose') || name.includes('floor') || name.startsWith('bare-');
  const sign = signed ? stampSigner(keys.private[alg]) : undefined;
  const salt = Math.random().toString(36).slice(2, 10);
  let serial = 0;
  const headersOf = sign
    ? () => ({
        'client-ip-attestation': sign({
          ip: '127.0.0.1',
          iat: Math.floor(Date.now() / 1000),
          jti: `${salt}-${(serial++).toString().padStart(16, '0')}`,
          htm: 'GET',
          htu: `http://127.0.0.1:${port}/orders`,
        }),
      })
    : undefined;
  return {
    name: framework === 'http' ? name : `${framework}:${name}`,
    pid,
    async window() {
      const requests = buildRequests({ host: `127.0.0.1:${port}`, path: '/orders', count: alg === 'es256' ? 15_000 : 90_000, headersOf });
      await ask('cpu-start');
      const run = await blast({ port, requests, duration: 1 });
      const { cpuMicros } = await ask('cpu-stop');
      if (run.errors) throw new Error(`${run.errors} failed requests`);
      return { ok: run.ok, cpuMicros };
    },
    stop,
  };
}

/** Loads `servers` in turns, one window each per second asked for; their requests and CPU per request. */
async function loadInTurns(servers) {
  const totals = servers.map(() => ({ requests: 0, cpu: 0 }));
  for (let s = 0; s < seconds; s++) {
    for (const [i, server] of servers.entries()) {
      const { ok, cpuMicros } = await server.window();
      totals[i].requests += ok;
      totals[i].cpu += cpuMicros;
    }
  }
  servers.forEach((server, i) =>
    console.log(`${server.name}: ${totals[i].requests} requests, ${(totals[i].cpu / totals[i].requests).toFixed(2)} µs server CPU/request`),
  );
  return totals;
}

if (native) {
  // both servers recorded in one session and loaded in turns, as the bench does: a host that
  // changes speed under the run changes both alike
  // (--perf-basic-prof also makes V8 write a log file: into the profile's directory, not the checkout)
  // (--expose-gc: the *-idle-gc variants collect from a timer)
  const execArgvOf = (name) => ['--expose-gc', '--perf-basic-prof', `--logfile=${join(dir, `${name}.v8.log`)}`, '--no-logfile-per-isolate'];
  const servers = [await startServer(against, execArgvOf('bare')), await startServer(variant, execArgvOf('variant'))];
  await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
  // a fresh process settles after about a second of load (bench/http.js warmUp)
  for (let w = 0; w < 2; w++) for (const server of servers) await server.window();
  const file = join(dir, 'perf.data');
  const threads = servers.map((server) => threadsOf(server.pid));
  const stopRecording = await recordNative(
    servers.map((server) => server.pid),
    file,
  );
  const totals = await loadInTurns(servers);
  const mapBytes = await stopRecording();
  await Promise.all(servers.map((server) => server.stop()));
  const [bare, server] = await attributeNative(
    file,
    servers.map((s, i) => ({ pid: s.pid, threads: threads[i], requests: totals[i].requests })),
    mapBytes,
  );
  const sum = (map) => [...map.values()].reduce((a, b) => a + b, 0);
  const row = (a, b, label) => `${(b - a).toFixed(2).padStart(7)} ${a.toFixed(2).padStart(7)} ${b.toFixed(2).padStart(7)}  ${label}`;
  console.log(`\nµs of CPU per request: ${variant} − ${against}, ${against}, ${variant} (sampled: ${sum(bare).toFixed(2)} and ${sum(server).toFixed(2)})`);
  const keysOf = (pick) => [...new Set([...bare.keys(), ...server.keys()].map(pick))];
  const byPart = (map, part) => [...map].filter(([k]) => partOf(k) === part).reduce((a, [, v]) => a + v, 0);
  const parts = keysOf(partOf).map((part) => [part, byPart(bare, part), byPart(server, part)]);
  console.log('\nby part:');
  for (const [part, a, b] of parts.sort((x, y) => y[2] - y[1] - (x[2] - x[1]))) console.log(row(a, b, part));
  console.log('\nby nearest JavaScript frame (inlining moves time between frames: read a pair that trades as one):');
  const rows = keysOf((k) => k).map((k) => [k, bare.get(k) ?? 0, server.get(k) ?? 0]);
  rows.sort((x, y) => y[2] - y[1] - (x[2] - x[1]));
  for (const [k, a, b] of [...rows.slice(0, 40), ...rows.slice(-8)]) console.log(row(a, b, k));
  console.log(`\nperf data: ${file}`);
  process.exit(0);
}

/** The thread ids of a process (V8 starts its helper threads at start-up). */
function threadsOf(pid) {
  return new Set(readdirSync(`/proc/${pid}/task`).map(Number));
}

const profiled = await startServer(variant, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200']);
const [{ requests: total }] = await loadInTurns([profiled]);
await profiled.stop();

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// self time per node in µs: each sample's time delta belongs to that sample
const selfTicks = new Map();
profile.samples.forEach((id, i) => selfTicks.set(id, (selfTicks.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byFunction = new Map();
const byFile = new Map();
for (const [id, ticks] of selfTicks) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^node:/, 'node:') : '';
  const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + ticks);
  const group = where.replace(/:\d+$/, '') || callFrame.functionName;
  byFile.set(group, (byFile.get(group) ?? 0) + ticks);
}
// µs of self time per answered request (the profile also covers start-up and the idle
// time between windows, which show up as module loading and "(idle)")
const top = (map, n) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${(v / total).toFixed(3).padStart(7)} µs  ${k}`)
    .join('\n');
const busy = [...byFile].filter(([k]) => k !== '(idle)').reduce((sum, [, v]) => sum + v, 0);
console.log(`\nself time by function (${(busy / total).toFixed(2)} µs/request not idle):\n${top(byFunction, 50)}`);
console.log(`\nself time by file:\n${top(byFile, 30)}`);
console.log(`\nprofile: ${join(dir, file)}`);
