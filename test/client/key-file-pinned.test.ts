import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStampKey } from '../../client/index.node.js';
import { makeKey } from '../support/keys.js';

// loadStampKey reads files an operator points it at: what it takes, by size and by kid.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipstamp-key-file-pinned-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function keyFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('loadStampKey: the size bound is 64 KiB, inclusive', () => {
  it('a valid key file padded to exactly 65536 bytes loads; one byte more is refused before it is read', async () => {
    const key = await makeKey('ES256', 'client-1');
    const json = JSON.stringify(key.privateJwk);
    const atBound = await keyFile('at-bound.json', json.padEnd(64 * 1024, ' '));
    expect(await loadStampKey(atBound)).toMatchObject({ kid: 'client-1', alg: 'ES256' });
    // Still a valid JWK after the padding: only the size can refuse it.
    const overBound = await keyFile('over-bound.json', json.padEnd(64 * 1024 + 1, ' '));
    await expect(loadStampKey(overBound)).rejects.toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE' });
  });
});

describe('loadStampKey: kid names the key to use', () => {
  it('a file holding one JWK whose kid is not the one asked for is refused, as in a JWK Set: the caller asked for another key', async () => {
    const key = await makeKey('ES256', 'client-1');
    const path = await keyFile('one.json', JSON.stringify(key.privateJwk));
    expect(await loadStampKey(path, { kid: 'client-1' })).toMatchObject({ kid: 'client-1' });
    await expect(loadStampKey(path, { kid: 'client-2' })).rejects.toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE' });
  });
});
