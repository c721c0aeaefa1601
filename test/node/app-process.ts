import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export type Framework = 'express5' | 'express4' | 'http';

export interface AppConfig {
  readonly framework: Framework;
  readonly keys: unknown;
  readonly trustedProxies?: readonly string[];
  readonly proxyProtocol?: boolean;
  readonly options?: Record<string, unknown>;
}

export interface RunningApp {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

const APP = resolve(import.meta.dirname, 'app.mjs');

/** Runs test/node/app.mjs as its own process and resolves once it printed its port. */
export function startApp(config: AppConfig): Promise<RunningApp> {
  const child = spawn(process.execPath, [APP, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`app did not start\n${stderr}`))), 20_000);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`app exited ${code}\n${stderr}`))));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const { port } = JSON.parse(line) as { port: number };
      resolvePort({
        port,
        url: `http://127.0.0.1:${port}`,
        async stop() {
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(kill);
        },
      });
    });
  });
}
