/**
 * Where a bench server's CPU goes, natively: `perf record` samples the whole process (V8,
 * OpenSSL, libuv, the kernel on its behalf, V8's helper threads) on CPU time only, and each
 * sample is charged to the nearest JavaScript frame on its stack — so a function's figure
 * includes the builtins, runtime calls and native code it called (`createHmac`'s OpenSSL set-up
 * counts to `Hmac`, `JSON.parse`'s to its caller). V8's own profiler (bench/profile.js without
 * `--native`) samples wall time, so a `writev`'s wait and the idle loop show as time, and roughly
 * doubles small frames; this one adds up to the server's CPU per request.
 *
 * Needs `perf` (linux-perf) and a server started with `--perf-basic-prof`, which names JIT
 * code in /tmp/perf-<pid>.map. Stacks are unwound with DWARF (`--call-graph dwarf`): the node
 * binary has no frame pointers, so a frame-pointer walk stops at the first native frame.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

/** Samples per second: low, because each DWARF sample copies the stack (at 5 kHz it doubled the server's CPU). */
const FREQUENCY = 499;

/**
 * Starts recording the processes `pids` into `file`; the returned function stops it once the
 * load is done and answers how long each process's perf map was then (see readPerfMap).
 */
export async function recordNative(pids, file) {
  const perf = spawn('perf', ['record', '-F', String(FREQUENCY), '--call-graph', 'dwarf', '-p', pids.join(','), '-o', file], { stdio: 'ignore' });
  const failed = once(perf, 'error').then(([error]) => {
    throw new Error(`perf record failed (${error.message}): install linux-perf to profile natively`);
  });
  // perf attaches asynchronously; a load started at once would go partly unrecorded
  await Promise.race([sleep(300), failed]);
  if (perf.exitCode !== null) throw new Error(`perf record exited with ${perf.exitCode}: is perf allowed here (kernel.perf_event_paranoid)?`);
  return async () => {
    // (a process not started with --perf-basic-prof has no map: its frames keep perf's names)
    const mapBytes = new Map(pids.map((pid) => [`/tmp/perf-${pid}.map`, statSync(`/tmp/perf-${pid}.map`, { throwIfNoEntry: false })?.size]));
    perf.kill('SIGINT');
    await once(perf, 'exit');
    return mapBytes;
  };
}

const JS_FRAME = /^(?:JS|LazyCompile|Function|RegExp):/;

/** `perf script` lines of one sample → what it is charged to. */
function chargeOf(frames, helperThread) {
  if (helperThread) return "V8's helper threads (GC, compiler)";
  for (const name of frames) {
    // a script's or module's top level (line 1, column 1) ran once, at load: under load such a
    // frame is code V8 freed whose address holds other code that readPerfMap could not name
    if (JS_FRAME.test(name) && !name.endsWith(':1:1'))
      return name
        .replace(/^(?:JS|LazyCompile|Function):[*^~+]?/, '')
        .replace(/(?:file:\/\/)?\/\S*?\/(dist|node_modules)\//, '$1/')
        .replace(/^ /, '(anonymous) ');
  }
  // no JavaScript on the stack: the event loop, llhttp called from it, the kernel under them
  const own = frames.find((name) => !JS_FRAME.test(name) && !name.startsWith('[') && !/^(?:__|entry_|do_syscall)/.test(name));
  return `native: ${own ?? frames[0] ?? '?'}`;
}

/**
 * Reads `file` and answers, for each of `servers` (`{ pid, threads, requests }`: its main
 * thread, every thread of it, the requests it answered while recorded), µs of CPU per request
 * for each place its samples were charged to. `mapBytes` is what recordNative's stop answered.
 */
export async function attributeNative(file, servers, mapBytes) {
  const { stdout } = await promisify(execFile)('perf', ['script', '-i', file], { maxBuffer: 1 << 30 });
  const charged = servers.map(() => new Map());
  const perfMaps = new Map();
  const codeAt = (mapFile, address) => {
    let map = perfMaps.get(mapFile);
    if (map === undefined) perfMaps.set(mapFile, (map = readPerfMap(mapFile, mapBytes?.get(mapFile))));
    return map.nameAt(address);
  };
  let frames = [];
  let tid = 0;
  const flush = () => {
    if (frames.length === 0) return;
    const at = servers.findIndex((server) => server.threads.has(tid));
    if (at !== -1) {
      const key = chargeOf(frames, tid !== servers[at].pid);
      const perSample = 1e6 / FREQUENCY / servers[at].requests;
      charged[at].set(key, (charged[at].get(key) ?? 0) + perSample);
    }
    frames = [];
  };
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (!/^\s/.test(line)) {
      // a sample's header, "node 31304 51419.711873: 2004 cpu-clock:ppp:": its thread
      flush();
      tid = Number(line.trim().split(/\s+/)[1]);
      continue;
    }
    // "\t    7f9c138d1b41 JS:*emitReadable node:internal/streams/readable:819:22+0x381 (/tmp/perf-31304.map)"
    const jit = line.match(/^\s*([0-9a-f]+) .*\((\/tmp\/perf-\d+\.map)\)$/);
    const symbol = jit
      ? codeAt(jit[2], parseInt(jit[1], 16))
      : line
          .trim()
          .replace(/ \([^()]*\)$/, '')
          .replace(/^[0-9a-f]+ /, '')
          .replace(/\+0x[0-9a-f]+$/, '');
    frames.push(symbol);
  }
  flush();
  return charged;
}

/**
 * Reads a perf map (`/tmp/perf-<pid>.map`: "start size name" a line, hex) up to `bytes` (its
 * length when the recording stopped; default all of it) and answers `nameAt(address)`: the
 * name of the last entry covering the address. V8 appends an entry for each code object it
 * makes and none when it frees one, so an address whose code was freed and reused has two or
 * more entries; perf names it by the first, which in a loaded server is code that ran once at
 * start-up. (A 36-second profile of the Fastify plugin charged 0.5 µs a request to
 * fast-json-stringify's module top level: it was the replay table's insert, optimized into the
 * same bytes later.) Entries written after the recording stopped cannot name its samples.
 * --perf-basic-prof turns off code compaction, so code never moves. A sample taken before the
 * newer code existed would be misnamed, but the recording starts after the servers' warm-up,
 * when their code has settled.
 */
export function readPerfMap(file, bytes) {
  const lines = readFileSync(file).subarray(0, bytes).toString('utf8').split('\n');
  // the last piece is '' after a whole line, or a line cut off as the recording stopped
  lines.pop();
  const entries = lines
    .map((line, order) => {
      // "start size name", hex; any other line names nothing
      const [, start, size, name] = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(line) ?? [];
      return { start: parseInt(start, 16), size: parseInt(size, 16), name, order };
    })
    .filter((entry) => Number.isSafeInteger(entry.start) && entry.size > 0)
    .sort((a, b) => a.start - b.start);
  const starts = entries.map((e) => e.start);
  const longest = entries.reduce((most, e) => Math.max(most, e.size), 1);
  const names = new Map();
  return {
    nameAt(address) {
      let name = names.get(address);
      if (name !== undefined) return name;
      // the last entry starting at or below the address, then back while one could still cover it
      let lo = 0;
      let hi = starts.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid] <= address) lo = mid + 1;
        else hi = mid;
      }
      let best;
      for (let i = lo - 1; i >= 0 && starts[i] > address - longest; i--) {
        const entry = entries[i];
        if (address < entry.start + entry.size && (best === undefined || entry.order > best.order)) best = entry;
      }
      name = best?.name ?? '[unknown JIT code]';
      names.set(address, name);
      return name;
    },
  };
}

/** Which part of the stack a charge belongs to, for the summary. */
export function partOf(key) {
  if (key.includes(' dist/')) return 'ipstamp (dist/)';
  if (key.includes(' node:internal/crypto/')) return 'node:crypto (createHmac, verify)';
  if (key.includes(' node_modules/')) return 'the framework (node_modules/)';
  if (key.includes('/bench/')) return 'the bench server (its route)';
  if (key.startsWith('RegExp:')) return 'regular expressions';
  if (key.startsWith('native: ')) return 'native, no JavaScript on the stack (event loop, llhttp, kernel)';
  if (key.startsWith("V8's")) return key;
  return 'Node core (http, streams, timers)';
}
