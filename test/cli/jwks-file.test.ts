import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDestination, commitJwksAddition, prepareJwksAddition } from '../../server/cli/jwks-file.js';
import { UsageError } from '../../server/cli/usage-error.js';
import { scratchDir } from '../support/cli-process.js';
import { usageError } from '../support/usage-error.js';

/**
 * The JWK Set file `keygen --jwks` adds to, in process: what it refuses (always a UsageError
 * naming --jwks, never a crash), and the mode of a set it creates.
 */
const scratch = scratchDir();
afterAll(() => scratch.cleanup());

const jwk = (kid: string) => ({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid, alg: 'ES256' });

describe('keygen --jwks: the set it adds to', () => {
  it('"keys" holding something other than JWK objects is refused by name, whatever it holds', () => {
    for (const [name, keys] of [
      ['null.json', [null]],
      ['number.json', [1]],
      ['array.json', [[jwk('a')]]],
      ['mixed.json', [jwk('a'), 'b']],
    ] as const) {
      const path = scratch.file(name, { keys });
      expect(usageError(() => prepareJwksAddition(path, 'new'))).toBe(`--jwks ${path}: not a JWK Set (each of "keys" must be a JWK object)`);
    }
  });

  it('a path under a file (not a directory) is refused before anything is written', () => {
    const file = scratch.file('plain.txt', 'not a directory');
    const path = join(file, 'keys.json');
    expect(usageError(() => prepareJwksAddition(path, 'k'))).toBe(`--jwks ${path}: ${file} is not a directory`);
    expect(usageError(() => checkDestination(path, '--out', 'refuse'))).toBe(`--out ${path}: ${file} is not a directory`);
  });

  it('a directory that vanished between the check and the write: cannot write (ENOENT) at once, not a wait for another keygen', async () => {
    const dir = join(scratch.dir, 'vanishing');
    mkdirSync(dir);
    const path = join(dir, 'keys.json');
    const edit = prepareJwksAddition(path, 'k');
    rmSync(dir, { recursive: true });
    await expect(commitJwksAddition(edit, jwk('k'))).rejects.toThrow(new UsageError(`--jwks ${path}: cannot write (ENOENT)`));
  });

  it('a new set of public keys is 0644 at most, whatever the umask (never group- or world-writable)', async () => {
    const path = join(scratch.dir, 'umask.json');
    const before = process.umask(0);
    try {
      expect(await commitJwksAddition(prepareJwksAddition(path, 'k'), jwk('k'))).toBe(1);
    } finally {
      process.umask(before);
    }
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(scratch.dir).filter((f) => f.includes('ipstamp-lock'))).toEqual([]);
  });
});
