import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commitJwksAddition, prepareJwksAddition } from '../../server/cli/jwks-file.js';
import { runCli, scratchDir } from '../support/cli-process.js';

/**
 * Two keygens adding to one JWK Set at the same time (a rotation script run twice, two operators)
 * must both land: a key whose public half is lost from the set signs stamps no verifier accepts.
 */
const scratch = scratchDir();
afterAll(() => scratch.cleanup());

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { keys: { kid: string }[]; note?: string };
const kids = (path: string) => read(path).keys.map((k) => k.kid);
/** A real public key under `kid`: keygen refuses to add to a set a verifier would refuse. */
const jwk = (kid: string) => ({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid, alg: 'ES256' });

describe('keygen --jwks, two writers', () => {
  it('a set read by two keygens before either writes keeps both keys', async () => {
    const path = scratch.file('interleaved.json', { keys: [jwk('old')], note: 'kept' });
    // the interleaving a race produces: both read the set with only "old" in it
    const first = prepareJwksAddition(path, 'a');
    const second = prepareJwksAddition(path, 'b');
    expect(await commitJwksAddition(first, jwk('a'))).toBe(2);
    expect(await commitJwksAddition(second, jwk('b'))).toBe(3);
    expect(kids(path)).toEqual(['old', 'a', 'b']);
    expect(read(path).note).toBe('kept');
  });

  it('a kid another keygen took in between is refused, and its key kept', async () => {
    const path = scratch.file('same-kid.json', { keys: [] });
    const first = prepareJwksAddition(path, 'twin');
    const second = prepareJwksAddition(path, 'twin');
    const kept = jwk('twin');
    await commitJwksAddition(first, kept);
    await expect(commitJwksAddition(second, jwk('twin'))).rejects.toThrow(`--jwks ${path}: already holds a key with kid "twin"; pick another --kid`);
    expect(read(path).keys).toEqual([kept]);
    expect(readdirSync(scratch.dir).filter((f) => f.startsWith('.same-kid'))).toEqual([]);
  });

  it('waits for the other writer, then adds to what it wrote', async () => {
    const path = scratch.file('waiting.json', { keys: [jwk('old')] });
    const lock = join(scratch.dir, '.waiting.json.ipstamp-lock');
    writeFileSync(lock, '', { flag: 'wx' });
    const edit = prepareJwksAddition(path, 'late');
    const committed = commitJwksAddition(edit, jwk('late'));
    let settled = false;
    void committed.finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    // the other writer finishes: its set replaces the file and its lock is gone
    writeFileSync(path, JSON.stringify({ keys: [jwk('old'), jwk('other')] }));
    rmSync(lock);
    expect(await committed).toBe(3);
    expect(kids(path)).toEqual(['old', 'other', 'late']);
    expect(existsSync(lock)).toBe(false);
  });

  it('eight keygen processes at once: every key in the set, each private key on disk', async () => {
    const path = join(scratch.dir, 'crowd.json');
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        runCli(['keygen', '--alg', 'ES256', '--kid', `k${i}`, '--out', join(scratch.dir, `crowd-k${i}.json`), '--jwks', path]),
      ),
    );
    expect(runs.map((r) => [r.code, r.stderr.includes('added to')])).toEqual(runs.map(() => [0, true]));
    expect(kids(path).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `k${i}`));
    expect(readdirSync(scratch.dir).filter((f) => f.startsWith('.crowd'))).toEqual([]);
  });

  it('a lock nobody releases: refused after a wait, naming the file to remove; the private key taken back', async () => {
    const path = scratch.file('stuck.json', { keys: [] });
    const lock = join(scratch.dir, '.stuck.json.ipstamp-lock');
    writeFileSync(lock, '', { flag: 'wx' });
    const out = join(scratch.dir, 'stuck-key.json');
    const result = await runCli(['keygen', '--alg', 'ES256', '--kid', 'stuck', '--out', out, '--jwks', path]);
    expect([result.code, result.stderr]).toEqual([
      2,
      `ipstamp keygen: --jwks ${path}: another keygen has been writing it for 3 s (${lock} exists); if none is running, remove that file\n`,
    ]);
    expect(existsSync(out)).toBe(false);
    expect(read(path).keys).toEqual([]);
    // not ours to remove: it may belong to a keygen that is slow, not dead
    expect(existsSync(lock)).toBe(true);
  });

  it('a secret narrows a new set to its owner before the secret is written', async () => {
    const path = join(scratch.dir, 'secret.json');
    const edit = prepareJwksAddition(path, 'hs');
    await commitJwksAddition(edit, { kty: 'oct', kid: 'hs', alg: 'HS256', k: 'c2VjcmV0' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
