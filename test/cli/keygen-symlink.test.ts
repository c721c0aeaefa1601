import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, scratchDir } from '../support/cli-process.js';

/**
 * `keygen --jwks LINK`: a symbolic link to a shared JWK Set is written through. The set it
 * names (the one the verifier reads) gains the key, the link stays a link, the set keeps its
 * mode rules; a link to nothing is refused before anything is written.
 */
const scratch = scratchDir();
afterAll(() => scratch.cleanup());

const kids = (path: string): unknown[] => (JSON.parse(readFileSync(path, 'utf8')) as { keys: { kid: unknown }[] }).keys.map((k) => k.kid);
const mode = (path: string): number => statSync(path).mode & 0o777;

describe('ipstamp keygen --jwks through a symbolic link', () => {
  it('adds the key to the file the link names, keeps the link and the mode, and leaves no sibling behind', async () => {
    const shared = join(scratch.dir, 'shared');
    mkdirSync(shared);
    const real = join(shared, 'keys.json');
    expect((await runCli(['keygen', '--alg', 'ES256', '--kid', 'phone-1', '--jwks', real])).code).toBe(0);
    chmodSync(real, 0o640);
    const link = join(scratch.dir, 'keys.json');
    symlinkSync('shared/keys.json', link);
    // a link to the link: followed to the end
    const second = join(scratch.dir, 'again.json');
    symlinkSync('keys.json', second);

    const added = await runCli(['keygen', '--alg', 'ES256', '--kid', 'phone-2', '--jwks', link]);
    expect([added.code, added.stderr]).toEqual([0, `ipstamp keygen: public key "phone-2" added to ${link} (2 keys)\n`]);
    expect((await runCli(['keygen', '--alg', 'EdDSA', '--kid', 'laptop', '--jwks', second])).code).toBe(0);

    expect(kids(real)).toEqual(['phone-1', 'phone-2', 'laptop']);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('shared/keys.json');
    expect(lstatSync(second).isSymbolicLink()).toBe(true);
    expect(mode(real)).toBe(0o640);

    // a secret narrows the file the link names to the owner, as for a plain path
    expect((await runCli(['keygen', '--alg', 'HS256', '--kid', 'svc', '--jwks', link])).code).toBe(0);
    expect(kids(real)).toEqual(['phone-1', 'phone-2', 'laptop', 'svc']);
    expect(mode(real)).toBe(0o600);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);

    expect(readdirSync(shared)).toEqual(['keys.json']);
    expect(readdirSync(scratch.dir).sort()).toEqual(['again.json', 'keys.json', 'shared']);
  });

  it('a link to nothing is refused with one line, exit 2; nothing is written, not even the --out key', async () => {
    const dir = join(scratch.dir, 'dangling');
    mkdirSync(dir);
    const link = join(dir, 'keys.json');
    symlinkSync('missing/keys.json', link);
    const out = join(dir, 'private.json');
    const result = await runCli(['keygen', '--alg', 'ES256', '--kid', 'k', '--out', out, '--jwks', link]);
    expect([result.code, result.stderr]).toEqual([
      2,
      `ipstamp keygen: --jwks ${link}: a symbolic link to a file that cannot be reached (ENOENT); name the JWK Set itself\n`,
    ]);
    expect(readdirSync(dir)).toEqual(['keys.json']);
    expect(readlinkSync(link)).toBe('missing/keys.json');
  });
});
