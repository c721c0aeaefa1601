import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process.js';

/**
 * `ipstamp` itself: which command runs, what help and --version print, and the exit codes a
 * script relies on (0 asked-for output, 2 a usage error: no command, an unknown one, bad flags).
 */

const version = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

describe('ipstamp: dispatch, help and exit codes', () => {
  it('no command: the help on stdout and exit 2 (a script that forgot the command fails)', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: ipstamp <command> [options]');
    expect(r.stderr).toBe('');
  });

  it.each(['--help', '-h', 'help'])('%s: the help, listing every command, exit 0', async (flag) => {
    const r = await runCli([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ipstamp ${version} —`);
    for (const command of ['serve', 'gateway', 'keygen', 'inspect', 'attack', 'demo']) expect(r.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
  });

  it.each(['--version', '-v'])('%s: the package version alone, exit 0', async (flag) => {
    const r = await runCli([flag]);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  // names Object.prototype holds are not commands either: no import of ./commands/constructor.js
  it.each(['frobnicate', 'constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'unknown command %s: one line on stderr naming it, nothing on stdout, exit 2',
    async (name) => {
      const r = await runCli([name]);
      expect(r).toEqual({ code: 2, stdout: '', stderr: `ipstamp: unknown command "${name}" (see ipstamp --help)\n` });
    },
  );

  it.each(['--help', '-h'])("a command's %s prints its usage and runs nothing, exit 0, wherever the flag is", async (flag) => {
    for (const args of [
      ['inspect', flag],
      ['inspect', 'not-a-stamp', flag],
      ['attack', '--target', 'http://127.0.0.1:9/', flag],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: ipstamp (inspect|attack) /);
      expect(r.stderr).toBe('');
    }
  });

  it("a command's usage error: one line prefixed with the command on stderr, exit 2", async () => {
    const r = await runCli(['inspect']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'ipstamp inspect: a TOKEN to inspect is required\n' });
    const unknownFlag = await runCli(['inspect', 'x.y.z', '--no-such-flag']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/^ipstamp inspect: .*no-such-flag/);
    expect(unknownFlag.stdout).toBe('');
  });
});
