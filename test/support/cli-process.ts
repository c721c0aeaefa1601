import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built CLI (`npm test` builds first; a direct vitest run needs `npx tsc -p tsconfig.json`). */
export const CLI = resolve(import.meta.dirname, '../../dist/server/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  cwd?: string;
  /** Kills the process and rejects after this long (default 20 s): a hang fails the test, not the run. */
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed; without it the child has no stdin. */
  input?: string;
}

/** Runs `ipstamp ARGS` to completion (bounded by `timeoutMs`). */
export function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolvePromise, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ipstamp ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

export interface RunningServe {
  /** `http://127.0.0.1:PORT`, read from the start line. */
  readonly url: string;
  readonly port: number;
  readonly startLine: string;
  /** The process id: its open file descriptors are /proc/PID/fd. */
  readonly pid: number;
  /** stdout and stderr as they came, interleaved. */
  output(): string;
  /** What the process wrote to stderr alone (the lines that report a problem). */
  stderr(): string;
  /** SIGTERM, then the exit code (SIGKILL after 5 s: a hung shutdown fails the test, not the run). */
  stop(): Promise<number | null>;
  /** Sends `signal` and nothing else (no SIGKILL later): for tests of the shutdown itself. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

const START_LINE = /^ipstamp (?:serve|gateway): listening on (http:\/\/[^\s]+) .*$/m;

/** Spawns `ipstamp serve ARGS` (or `gateway`, which is serve too) and resolves once its start line names the address. */
export function startServe(
  args: readonly string[],
  command: 'serve' | 'gateway' = 'serve',
  /** Node's own flags (`--import ./preload.mjs`) and extra environment. */
  node: { args?: readonly string[]; env?: Readonly<Record<string, string>> } = {},
): Promise<RunningServe> {
  const child: ChildProcess = spawn(process.execPath, [...(node.args ?? []), CLI, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...node.env },
  });
  let output = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => ((exitCode = code), r(code))));
  const stop = async (): Promise<number | null> => {
    if (exitCode !== undefined) return exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`ipstamp serve printed no start line\n${output}`));
    }, 20_000);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const m = START_LINE.exec(output);
      if (!m) return;
      clearTimeout(timer);
      const url = m[1]!;
      resolvePromise({
        url,
        port: Number(new URL(url).port),
        startLine: m[0],
        pid: child.pid!,
        output: () => output,
        stderr: () => stderr,
        stop,
        signal: (s) => void child.kill(s),
        exited,
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
      stderr += d.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ipstamp serve exited (${code}) before starting\n${output}`));
    });
  });
}

/** A temp dir for key files; `cleanup()` removes it. */
export function scratchDir(): { dir: string; file(name: string, content: unknown): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ipstamp-cli-'));
  return {
    dir,
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
