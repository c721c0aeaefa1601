import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * .ci/run's `within SECONDS WHAT COMMAND…`, the bound around each vitest pass, taken out of the
 * script and run by bash under `set -euo pipefail` as there, with passes of a second or less.
 */
const WITHIN = /^within\(\) \{\n[\s\S]*?\n\}\n/m.exec(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8'))![0];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `script` after `within`'s definition, in a process group of its own; `interrupt` sends SIGINT to that group once the pass has started. */
function runScript(script: string, interrupt = false): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${WITHIN}${script}`], { detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += String(chunk);
      if (interrupt && stdout.includes('started')) process.kill(-child.pid!, 'SIGINT');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Still running: a process killed but not yet reaped by whoever inherited it (a zombie) is not. */
const alive = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
};

describe(".ci/run's within", () => {
  it('passes a pass’s exit code on, and the script stops there (set -e)', async () => {
    const run = await runScript(`within 5 'the pass' sh -c 'exit 3'\necho after`);
    expect([run.code, run.stdout, run.stderr]).toEqual([3, '', '']);
  });

  it('ends a pass that outlives its bound, its whole process group, and says what ran out', async () => {
    const run = await runScript(`within 1 'the pass' sh -c 'sleep 30 & echo "$!"; wait'\necho after`);
    expect([run.code, run.stderr.split('\n')[0]]).toEqual([
      124,
      '::error::the pass did not finish in 1 s: a test or a worker hung. Compare the files it started with the ones it finished (vitest list --filesOnly).',
    ]);
    await expect.poll(() => alive(Number(run.stdout.trim()))).toBe(false);
  });

  it('does not say a pass the kernel killed early (137, as out of memory) ran out of time', async () => {
    const run = await runScript(`within 30 'the pass' sh -c 'kill -9 $$'`);
    expect(run.code).toBe(137);
    expect(run.stderr).not.toContain('did not finish');
  });

  it('an interrupt of the script (Ctrl-C) ends the pass and stops the script', async () => {
    const run = await runScript(`within 30 'the pass' sh -c 'echo started; sleep 30 & echo "$!"; wait'\necho after`, true);
    const [, sleeper] = run.stdout.trim().split('\n');
    expect([run.code, run.stdout.includes('after')]).toEqual([130, false]);
    await expect.poll(() => alive(Number(sleeper))).toBe(false);
  });
});
