/**
 * What every HTTP bench does with processes: pin the server and the load to their own cores,
 * find a free loopback port, fork a bench server and talk to it over IPC.
 */
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * Pins a process, every thread of it, to one core; false without taskset (figures are still CPU
 * per request, only noisier). Every thread: `taskset -p` alone moves the main thread only, and a
 * bench server's V8 helpers (parallel scavenges, concurrent marking, the optimizing compiler)
 * kept the mask they were born with — the load's core, which the load keeps busy spinning, since
 * the servers are forked from the pinned load process (bench/README.md, "Seventh pass").
 */
export function pin(pid, core) {
  try {
    execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Forks a bench server script (it sends `{ port }` once listening), pinned to core 0, with
 * `execArgv` when given (a profiler's flags) and this process's otherwise. `ask` sends a message
 * and waits for the reply (CPU counters); `stop` asks it to exit.
 */
export async function forkBenchServer(script, args, { execArgv } = {}) {
  const child = fork(script, args, { stdio: 'inherit', ...(execArgv ? { execArgv } : {}) });
  const [{ port }] = await once(child, 'message');
  pin(child.pid, 0);
  const ask = async (message) => {
    child.send(message);
    const [reply] = await once(child, 'message');
    return reply;
  };
  return { pid: child.pid, port, ask, stop: () => (child.send('exit'), once(child, 'exit')) };
}

/**
 * The server side of forkBenchServer: tells the parent its port, then answers `cpu-start` /
 * `cpu-stop` (this process's CPU between the two), `exit` (after `close`), and any message
 * named in `answers` with what its function returns.
 */
export function serveBenchParent(port, close, answers = {}) {
  let start;
  process.on('message', async (message) => {
    if (message === 'cpu-start') {
      start = process.cpuUsage();
      process.send({ started: true });
    } else if (message === 'cpu-stop') {
      const used = process.cpuUsage(start);
      process.send({ cpuMicros: used.user + used.system, userMicros: used.user, systemMicros: used.system });
    } else if (message === 'exit') {
      await close();
      process.exit(0);
    } else if (Object.hasOwn(answers, message)) {
      process.send(await answers[message]());
    }
  });
  process.send({ port });
}

/**
 * Runs `load()` against a bench server and adds the share of one core the server was busy
 * meanwhile (its CPU time over the wall time): what a p99 at a fixed rate has to be read
 * against — requests that arrive one by one cost a server more than a saturating stream does,
 * so "half the saturated rate" can keep a core far more than half busy.
 */
export async function withBusyShare(server, load) {
  await server.ask('cpu-start');
  const started = process.hrtime.bigint();
  const result = await load();
  const wallMicros = Number(process.hrtime.bigint() - started) / 1e3;
  const { cpuMicros } = await server.ask('cpu-stop');
  return { ...result, busy: cpuMicros / wallMicros };
}
