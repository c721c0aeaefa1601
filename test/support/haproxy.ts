import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from './ports.js';

export interface RunningProxy {
  /** Everything HAProxy wrote to stderr so far: read it when a test fails. */
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * Writes `config` into a fresh temp dir and runs `haproxy -f CONF -db` (foreground, no
 * daemon) until `stop()`. Resolves once every port in `listens` accepts connections.
 */
export async function startHaproxy(binary: string, config: string, listens: readonly number[]): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ipstamp-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const child = spawn(binary, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return superviseProxyProcess(child, dir, listens);
}

export async function superviseProxyProcess(child: ChildProcess, dir: string, listens: readonly number[]): Promise<RunningProxy> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', (error) => (output += `\nspawn error: ${error.message}`));
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of listens) await waitForPort(port, { alive: () => !exited });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { output: () => output, stop };
}
