import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { freePort } from './support/ports.js';
import { startRedis } from './support/redis.js';
import { requireRuntime } from './support/runtimes.js';

/**
 * The runnable examples of the README and of docs/*.md, run as a user would paste them: against
 * the built package, imported by its own name, in a fresh directory per page. A block is runnable
 * when the line before it is `<!-- readme-example: NAME -->`; every other block is a fragment or
 * a configuration snippet and is not run.
 *
 * - ```js blocks run with `node`; ```sh blocks with `bash -e`, with `ipstamp` on PATH (what
 *   `npm link`, or `npx ipstamp` in a project, gives a reader).
 * - `<!-- readme-example: NAME, background -->` marks a server the page's later blocks talk to:
 *   it is started, awaited until it prints `listening on`, and stopped after the page's last
 *   block. On such a page the examples use port 8080; the test substitutes a free port for it.
 * - The blocks of one page run in order, in one directory, so a later block can use the files
 *   an earlier one wrote (keygen, then serve with that key).
 */
const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/server/cli/main.js');

interface Example {
  name: string;
  lang: 'js' | 'sh';
  background: boolean;
  code: string;
}

interface Expectation {
  /** Matched in this order in stdout + stderr (each after the previous match). */
  output: RegExp[];
  /** A real binary the example needs running. */
  needs?: 'redis-server';
  /** Run the js block with this runtime from .runtimes/ instead of node (skipped loudly when absent, failed under CI). */
  runtime?: 'bun' | 'deno';
  /** Exit code of a run-to-completion block (default 0). */
  exitCode?: number;
}

const expectations: Record<string, Expectation> = {
  core: { output: [/agreement: 'match'/, /^replay$/m] },
  plugin: { output: [/^200 .*ip: '127\.0\.0\.1'.*agreement: 'match'.*item: 42/m, /^401 missing$/m] },
  'quickstart-keygen': { output: [/private key "client-1" written to client\.jwk\.json/, /public key "client-1" added to keys\.json/] },
  'quickstart-serve': { output: [/ipstamp serve: listening on http:\/\/127\.0\.0\.1:\d+ — 1 key from keys\.json/] },
  'quickstart-fetch': {
    output: [/^200 \{[\s\S]*?ip: '127\.0\.0\.1',[\s\S]*?agreement: 'match',[\s\S]*?kid: 'client-1'/m, /^401 missing$/m],
  },
  'node-http': { output: [/^200 match$/m, /^401 missing$/m] },
  'node-continue': { output: [/^401 close body sent: false$/m] },
  'node-upgrade': { output: [/^hello 127\.0\.0\.1 \(match\)$/m, /^unstamped: refused$/m] },
  'fastify-websocket': { output: [/^hello 127\.0\.0\.1 \(match\)$/m, /^unstamped: refused$/m] },
  'rate-limit-fastify': { output: [/^200 200 429$/m] },
  'rate-limit-express': { output: [/^200 200 429$/m] },
  'node-koa': { output: [/^200 \{ agreement: 'match', order: '\{"item":42\}' \}$/m, /^401 missing$/m, /^200$/m] },
  'node-express': { output: [/^200 \{ agreement: 'match', item: 42 \}$/m, /^401 missing$/m, /^200$/m] },
  telemetry: {
    output: [
      /^ipstamp\.replay_store\.insert \{"ipstamp\.replay_store\.outcome":"inserted"\}$/m,
      /^ipstamp\.verify \{"ipstamp\.outcome":"accepted","ipstamp\.agreement":"match",.*"client\.address":"127\.0\.0\.1"\}$/m,
      /^ipstamp\.verify \{"ipstamp\.outcome":"rejected","ipstamp\.reason":"missing"\}$/m,
      /^ipstamp\.requests \{"ipstamp\.outcome":"accepted",.*\} 1$/m,
      /^ipstamp\.requests \{"ipstamp\.outcome":"rejected","ipstamp\.reason":"missing"\} 1$/m,
      /^200$/m,
    ],
  },
  hono: { output: [/^200 \{"ip":"127\.0\.0\.1","agreement":"match","order":\{"item":42\}\}$/m, /^401 missing$/m] },
  'hono-handler': { output: [/^200 \{"ip":"127\.0\.0\.1"\}$/m, /^401$/m, /^200$/m] },
  web: { output: [/^true 203\.0\.113\.7 match$/m, /^401 replay$/m, /^403 ip-unverifiable$/m] },
  'browser-keys': { output: [/^true$/m, /^match$/m, /^unknown-key$/m] },
  'client-clock': { output: [/^200 \[ 401, 200 \]$/m, /^200 \[ 200, 200 \]$/m] },
  'cli-keygen': { output: [/private key "phone-1" written to phone-1\.jwk/, /public key "phone-1" added to keys\.json/] },
  errors: { output: [/^TypeError maxAge must be a whole number of seconds from 1 to 86400$/m, /^401 malformed ERR_IPSTAMP_MALFORMED$/m] },
  // docs/adopting.md: the forged X-Forwarded-For is what the old logic reads; the verified address is the socket's;
  // report-only serves the lying stamp and names what enforcement would refuse
  'adopt-measure': {
    output: [
      /^200 old=127\.0\.0\.1 verified=127\.0\.0\.1$/m,
      /^200 old=127\.0\.0\.1 verified=none$/m,
      /^200 old=203\.0\.113\.9 verified=none$/m,
      /^200 old=203\.0\.113\.9 verified=127\.0\.0\.1$/m,
      /^200 old=127\.0\.0\.1 verified=none refused=ip-mismatch$/m,
      /^stamped=2 unstamped=2 refused=1$/m,
    ],
  },
  'adopt-enforce': {
    output: [
      /^stamped \/login 200 \{ ip: '127\.0\.0\.1' \}$/m,
      /^unstamped \/login 401 application\/problem\+json$/m,
      /^\{"type":"urn:ipstamp:missing","title":"Client IP attestation required","status":401,"reason":"missing"\}$/m,
      /^unstamped \/orders 200 \{ stamped: false \}$/m,
      /^missing 1$/m,
    ],
  },
  'tickets-round-trip': { output: [/^200 127\.0\.0\.1 match ticket true$/m] },
  'bun-hono': { output: [/^200 \{"ip":"127\.0\.0\.1","agreement":"match","order":\{"item":42\}\}$/m, /^401 missing$/m], runtime: 'bun' },
  'deno-hono': { output: [/^200 \{"ip":"127\.0\.0\.1","agreement":"match","order":\{"item":42\}\}$/m, /^401 missing$/m], runtime: 'deno' },
  'redis-two-instances': { output: [/^true$/m, /^replay$/m], needs: 'redis-server' },
  'attack-keygen': { output: [/private key "attack-test" written to client\.jwk\.json/] },
  'attack-serve': { output: [/ipstamp serve: listening on/] },
  'key-rotation-sighup': {
    // stdout (serve.log) comes before stderr (keygen's lines) in what the test reads
    output: [
      /ipstamp serve: listening on http:\/\/127\.0\.0\.1:\d+ — 1 key from keys\.json/,
      /^ipstamp serve: SIGHUP: reloaded --keys keys\.json: 2 keys \(added client-2026\)$/m,
      /^ipstamp serve: SIGHUP: reloaded --keys keys\.json: 1 key \(removed client-2025\)$/m,
      /public key "client-2026" added to keys\.json \(2 keys\)/,
    ],
  },
  'key-rotation-library': {
    output: [
      /^old key: accepted$/m,
      /added: \[ 'app-2026' \]/,
      /^new key: accepted$/m,
      /^same stamp again: replay$/m,
      /removed: \[ 'app-2025' \]/,
      /^old key: unknown-key$/m,
      /^TypeError keys\[0\]: HMAC secret must be at least 32 bytes — still \[ 'app-2026' \]$/m,
    ],
  },
  // docs/attack.md: without --proxy-protocol, serve answers the two PROXY-header attacks 400: two warnings, not failures
  'attack-run': {
    output: [
      /control-get\s.*PASS/,
      /replay-race\s.*PASS/,
      /proxy-v1-spoofed\s.*400 \(no reason\)\s+WARN/,
      /proxy-v2-spoofed\s.*400 \(no reason\)\s+WARN/,
      /^\d+ attacks: \d+ passed, 2 warnings, 0 failed/m,
      /^SAFE: /m,
    ],
  },
};

const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const marker = /<!-- readme-example: ([\w-]+)(, background)? -->\n(```(\w*)\n([\s\S]*?)```)?/g;

function examplesOf(page: string): Example[] {
  const text = readFileSync(join(root, page), 'utf8');
  return [...text.matchAll(marker)].map((m) => {
    const lang = m[4];
    if (lang !== 'js' && lang !== 'sh') throw new Error(`${page}: the marker of ${m[1]} must be followed by a js or sh block`);
    return { name: m[1]!, lang, background: m[2] !== undefined, code: m[5]! };
  });
}

const byPage = pages.map((page) => ({ page, examples: examplesOf(page) })).filter((p) => p.examples.length > 0);

function expectInOrder(output: string, patterns: RegExp[]): void {
  let rest = output;
  for (const pattern of patterns) {
    const match = pattern.exec(rest);
    expect(match, `${pattern} (in order) in:\n${output}`).not.toBeNull();
    rest = rest.slice(match!.index + match![0].length);
  }
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(command, args, { ...options, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolvePromise({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('README and docs examples run as written', () => {
  it('every runnable example has expectations, and every expectation an example', () => {
    const names = byPage.flatMap((p) => p.examples.map((e) => e.name));
    expect(new Set(names).size, 'example names are unique').toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(expectations).sort());
  });

  for (const { page, examples } of byPage) {
    describe(page, () => {
      // inside the package folder, so `import 'ipstamp/…'` resolves through the exports map
      const scratch = mkdtempSync(join(root, '.readme-example-'));
      const bin = join(scratch, '.bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'ipstamp'), `#!/bin/sh\nexec node ${JSON.stringify(cli)} "$@"\n`);
      chmodSync(join(bin, 'ipstamp'), 0o755);
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
      const background: ChildProcess[] = [];
      let port: number | undefined;

      beforeAll(async () => {
        if (examples.some((e) => e.background)) port = await freePort();
      });
      afterAll(async () => {
        for (const child of background) {
          if (child.exitCode !== null || child.signalCode !== null) continue;
          const exited = new Promise((r) => child.once('exit', r));
          process.kill(-child.pid!, 'SIGTERM');
          const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(scratch, { recursive: true, force: true });
      });

      for (const example of examples) {
        const expectation = expectations[example.name] ?? { output: [] };
        it(example.name, async (ctx) => {
          const code = port === undefined ? example.code : example.code.replaceAll('8080', String(port));
          if (example.background) {
            const child = spawn('bash', ['-e', '-c', code], { cwd: scratch, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
            background.push(child);
            let output = '';
            await new Promise<void>((ready, fail) => {
              const timer = setTimeout(() => fail(new Error(`${example.name} printed no "listening on" in 20 s:\n${output}`)), 20_000);
              const read = (chunk: Buffer): void => {
                output += chunk.toString();
                if (/listening on/.test(output)) {
                  clearTimeout(timer);
                  ready();
                }
              };
              child.stdout!.on('data', read);
              child.stderr!.on('data', read);
              child.once('exit', (status) => {
                clearTimeout(timer);
                fail(new Error(`${example.name} exited (${status}):\n${output}`));
              });
            });
            expectInOrder(output, expectation.output);
            return;
          }
          let runEnv = env;
          let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
          if (expectation.needs === 'redis-server') {
            const binary = requireBinary('redis-server');
            if (binary === undefined) return ctx.skip();
            redis = await startRedis(binary);
            runEnv = { ...env, REDIS_URL: redis.url };
          }
          let command: [string, ...string[]] = ['node'];
          if (expectation.runtime !== undefined) {
            const binary = requireRuntime(expectation.runtime);
            if (binary === undefined) return ctx.skip();
            command = expectation.runtime === 'bun' ? [binary, 'run'] : [binary, 'run', '--allow-net', '--allow-read', '--allow-env', '--no-prompt'];
            runEnv = { ...runEnv, DENO_NO_UPDATE_CHECK: '1', DENO_DIR: join(scratch, '.deno') };
          }
          try {
            const file = join(scratch, `${example.name}.${example.lang === 'js' ? 'mjs' : 'sh'}`);
            writeFileSync(file, code);
            const { code: exit, output } =
              example.lang === 'js'
                ? await run(command[0], [...command.slice(1), file], { cwd: scratch, env: runEnv })
                : await run('bash', ['-e', file], { cwd: scratch, env: runEnv });
            expect(exit, output).toBe(expectation.exitCode ?? 0);
            expectInOrder(output, expectation.output);
          } finally {
            await redis?.close();
          }
        });
      }
    });
  }
});
