import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { isCI } from './binaries.js';
import { waitForPort } from './ports.js';

/**
 * The edge runtimes the tests run in — Cloudflare workerd, Bun, Deno — and TypeScript 7 come
 * from the npm registry, pinned, into .runtimes/ (`npm run runtimes`; .ci/run does it after
 * `npm ci`).
 * Like requireBinary: a missing one skips its tests loudly, and fails them under CI=true.
 */
const root = resolve(import.meta.dirname, '../..');
const RUNTIME_PATHS = {
  workerd: '.runtimes/node_modules/@cloudflare/workerd-linux-64/bin/workerd',
  bun: '.runtimes/node_modules/@oven/bun-linux-x64/bin/bun',
  deno: '.runtimes/node_modules/@deno/linux-x64-glibc/deno',
  // TypeScript 7 (a native compiler): beside 5.9 in node_modules both would own `.bin/tsc`
  tsc7: '.runtimes/node_modules/typescript/bin/tsc',
} as const;

export type RuntimeName = keyof typeof RUNTIME_PATHS;

export function requireRuntime(name: RuntimeName): string | undefined {
  const path = join(root, RUNTIME_PATHS[name]);
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    const message = `${name} is not in .runtimes/: the tests that need it cannot run (run \`npm run runtimes\`, or .ci/run)`;
    if (isCI) throw new Error(`CI=true and ${message}`);
    console.warn(`\n!!! SKIPPING: ${message}\n`);
    return undefined;
  }
}

/** esbuild's resolve conditions per runtime: what its own bundler (wrangler, `bun build`, `deno bundle`) would pick. */
/** The runtimes a fixture is bundled for (TypeScript 7 is a compiler, not one of them). */
export type BundleRuntime = Exclude<RuntimeName, 'tsc7'>;

const CONDITIONS: Record<BundleRuntime, string[]> = {
  workerd: ['workerd', 'worker', 'browser'],
  bun: ['bun'],
  deno: ['deno'],
};

/**
 * Bundles a fixture into one ES module for `runtime`, as a user's build would: `ipstamp/...`
 * resolves through this package's exports map to the BUILT dist/ (build first). The platform is
 * neutral, so a `node:` import anywhere in the graph fails the build instead of reaching the runtime.
 */
export async function bundleFixture(entry: string, runtime: BundleRuntime): Promise<string> {
  return bundle({ entryPoints: [entry] }, runtime);
}

/** The same for a module's text (a docs example), resolved as if it were a file at the package root. */
export async function bundleSource(contents: string, runtime: BundleRuntime): Promise<string> {
  return bundle({ stdin: { contents, resolveDir: root, loader: 'js', sourcefile: 'example.js' } }, runtime);
}

async function bundle(input: Pick<BuildOptions, 'entryPoints' | 'stdin'>, runtime: BundleRuntime): Promise<string> {
  const result = await build({
    ...input,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: CONDITIONS[runtime],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export interface RunningRuntime {
  /** Everything the process wrote so far: read it when a test fails. */
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * Writes `files` into a fresh temp dir, runs `binary args…` there, and resolves once every
 * port in `listens` accepts connections (or rejects with the process's output). `stop()` ends
 * it (SIGTERM, SIGKILL after 3 s), waits for the exit, removes the dir; a test run that dies
 * kills it too.
 */
export async function startRuntime(
  binary: string,
  args: readonly string[],
  files: Readonly<Record<string, string>>,
  listens: readonly number[],
  env: Readonly<Record<string, string>> = {},
): Promise<RunningRuntime> {
  const dir = await mkdtemp(join(tmpdir(), 'ipstamp-runtime-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const child: ChildProcess = spawn(binary, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: dir, DENO_DIR: join(dir, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.once('error', (error) => (output += `\nspawn error: ${error.message}`));
  let exited = false;
  const gone = new Promise<void>((done) => child.once('exit', () => ((exited = true), done())));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of listens) await waitForPort(port, { alive: () => !exited, timeoutMs: 20_000 });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { output: () => output, stop };
}

/** A Worker of a workerd config: its bundled module, bindings and the Durable Object classes it defines. */
export interface WorkerService {
  name: string;
  /** The bundled ES module (bundleFixture). */
  code: string;
  /** Classes of this Worker that are Durable Objects (in-memory storage), each with its binding name. */
  durableObjects?: readonly { className: string; binding: string }[];
  /** Bindings to a Durable Object class another service defines: one namespace, shared. */
  foreignDurableObjects?: readonly { binding: string; className: string; serviceName: string }[];
  /** Text bindings (env.NAME). */
  text?: Readonly<Record<string, string>>;
  /** Loopback port this service listens on (plain HTTP). */
  port: number;
}

const capnpString = (value: string): string => JSON.stringify(value);

/** A workerd config: each service a Worker with its own socket; Durable Objects stored in memory. */
export function workerdConfig(services: readonly WorkerService[], compatibilityDate = '2025-09-01'): string {
  const lines = ['using Workerd = import "/workerd/workerd.capnp";', 'const config :Workerd.Config = (', '  services = ['];
  services.forEach((s, i) => lines.push(`    (name = ${capnpString(s.name)}, worker = .worker${i}),`));
  lines.push('  ],', '  sockets = [');
  for (const s of services)
    lines.push(`    (name = ${capnpString(`http-${s.name}`)}, address = "127.0.0.1:${s.port}", http = (), service = ${capnpString(s.name)}),`);
  lines.push('  ],', ');');
  services.forEach((s, i) => {
    const bindings: string[] = [];
    for (const d of s.durableObjects ?? []) bindings.push(`(name = ${capnpString(d.binding)}, durableObjectNamespace = ${capnpString(d.className)})`);
    for (const d of s.foreignDurableObjects ?? []) {
      bindings.push(
        `(name = ${capnpString(d.binding)}, durableObjectNamespace = (className = ${capnpString(d.className)}, serviceName = ${capnpString(d.serviceName)}))`,
      );
    }
    for (const [name, value] of Object.entries(s.text ?? {})) bindings.push(`(name = ${capnpString(name)}, text = ${capnpString(value)})`);
    lines.push(
      `const worker${i} :Workerd.Worker = (`,
      `  modules = [ (name = "worker.js", esModule = embed ${capnpString(`${s.name}.js`)}) ],`,
      `  compatibilityDate = ${capnpString(compatibilityDate)},`,
      `  bindings = [ ${bindings.join(', ')} ],`,
    );
    if (s.durableObjects?.length) {
      const classes = s.durableObjects.map((d) => `(className = ${capnpString(d.className)}, uniqueKey = ${capnpString(`${s.name}-${d.className}`)})`);
      lines.push(`  durableObjectNamespaces = [ ${classes.join(', ')} ],`, '  durableObjectStorage = (inMemory = void),');
    }
    lines.push(');');
  });
  return `${lines.join('\n')}\n`;
}

/** Runs workerd with a config of these services; resolves once each service's port accepts connections. */
export async function startWorkerd(binary: string, services: readonly WorkerService[]): Promise<RunningRuntime> {
  const files: Record<string, string> = { 'config.capnp': workerdConfig(services) };
  for (const s of services) files[`${s.name}.js`] = s.code;
  return startRuntime(
    binary,
    ['serve', 'config.capnp', '--verbose'],
    files,
    services.map((s) => s.port),
  );
}

/** Runs a bundled script under Bun (`bun run`), its port in env PORT. */
export async function startBun(binary: string, code: string, port: number, env: Readonly<Record<string, string>> = {}): Promise<RunningRuntime> {
  return startRuntime(binary, ['run', 'server.mjs'], { 'server.mjs': code }, [port], { PORT: String(port), ...env });
}

/** Runs a bundled script under Deno, with network and env access only, its port in env PORT. */
export async function startDeno(binary: string, code: string, port: number, env: Readonly<Record<string, string>> = {}): Promise<RunningRuntime> {
  return startRuntime(binary, ['run', '--allow-net', '--allow-env', '--no-prompt', 'server.mjs'], { 'server.mjs': code }, [port], {
    PORT: String(port),
    ...env,
  });
}
