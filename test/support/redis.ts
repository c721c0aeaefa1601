import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A real redis-server on a loopback port, with persistence off, that tests can stop, restart
 * on the same port, and freeze — the outages a RedisReplayStore must survive.
 */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** Whether the process is up (paused counts as up). */
  readonly running: boolean;
  /** Everything redis-server wrote so far: read it when a test fails. */
  output(): string;
  /** Ends the process (SIGTERM, or SIGKILL for a crash) and waits until it has exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port, empty (nothing was persisted), once it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the port still accepts connections, but nothing is ever answered. */
  pause(): void;
  /** SIGCONT: answers everything that was sent meanwhile. */
  resume(): void;
  /** Stops for good and removes the working directory. */
  close(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** More `--name value` settings (a Cluster node's, a replica's). */
  args?: readonly string[];
  /**
   * Run as a sentinel (`redis-server CONF --sentinel`) with these config lines: the file lives
   * in the node's own directory, where the sentinel rewrites it, and survives a restart.
   */
  sentinelConfig?: readonly string[];
}

export async function startRedis(binary: string, options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'ipstamp-redis-'));
  const common = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  let args: string[];
  if (options.sentinelConfig) {
    const config = join(dir, 'sentinel.conf');
    await writeFile(config, `${options.sentinelConfig.join('\n')}\n`);
    args = [config, '--sentinel', ...common];
  } else {
    args = [...common, '--save', '', '--appendonly', 'no', ...(options.args ?? [])];
  }
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let alive = false;
  let paused = false;
  let output = '';
  // A test that crashes must not leave a redis-server behind.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const launch = async (): Promise<void> => {
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    alive = true;
    paused = false;
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    proc.once('error', (error) => (output += `\nspawn error: ${error.message}`));
    exited = new Promise<void>((resolve) => proc.once('exit', () => ((alive = false), resolve())));
    try {
      await waitForPong(port, () => alive);
    } catch (error) {
      await stop('SIGKILL');
      throw new Error(`${(error as Error).message}\n${output}`);
    }
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    if (!alive || child === undefined) return;
    child.kill(signal);
    // A stopped process keeps SIGTERM pending until it runs again.
    if (paused) child.kill('SIGCONT');
    paused = false;
    const timer = setTimeout(() => child?.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  const signal = (name: 'SIGSTOP' | 'SIGCONT'): void => {
    if (!alive || child === undefined) throw new Error('redis-server is not running');
    child.kill(name);
    paused = name === 'SIGSTOP';
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return alive;
    },
    output: () => output,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    close: async () => {
      await stop();
      process.removeListener('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `PING` on the port gets `+PONG`; rejects after `timeoutMs` or if the process died. */
export async function waitForPong(port: number, alive: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pings(port)) return;
    if (!alive()) throw new Error(`redis-server meant for port ${port} exited`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} does not answer PING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

/**
 * What a client's socket hands the kernel, one entry per write: the number of chunks in it
 * (net.Socket's `_write` takes one, `_writev` several). How a test sees whether commands left
 * together or one by one.
 */
export function countSocketWrites(stream: unknown): number[] {
  const socket = stream as { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const writes: number[] = [];
  const { _write, _writev } = socket;
  socket._write = function (...args) {
    writes.push(1);
    return _write.apply(this, args);
  };
  socket._writev = function (chunks, cb) {
    writes.push(chunks.length);
    return _writev.call(this, chunks, cb);
  };
  return writes;
}
