import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir } from '../support/cli-process.js';

/** An issuer key marked for something else, in `--issuers FILE`, is named by --issuers and its issuer. */
const scratch = scratchDir();
const EDGE = 'https://edge.example';
let ed: TestKeyPair;
let client: TestKeyPair;

beforeAll(async () => {
  ed = await makeKey('EdDSA', 'edge-1');
  client = await makeKey('ES256', 'client-1');
});
afterAll(() => scratch.cleanup());

describe('--issuers with a key whose use or key_ops rule out verifying', () => {
  it('serve and gateway say --issuers FILE and the issuer (not "--keys undefined", not the --keys file), exit 2', async () => {
    const file = scratch.file('issuers.json', { [EDGE]: { keys: [{ ...ed.publicJwk, use: 'enc' }] } });
    const keys = scratch.file('keys.json', { keys: [client.publicJwk] });
    const line = `--issuers ${file}: issuers["${EDGE}"].keys[0]: use must be "sig" when present (this key is marked for something else)\n`;
    const alone = await runCli(['serve', '--issuers', file, '--port', '0']);
    expect([alone.code, alone.stderr]).toEqual([2, `ipstamp serve: ${line}`]);
    const withKeys = await runCli(['serve', '--keys', keys, '--issuers', file, '--port', '0']);
    expect([withKeys.code, withKeys.stderr]).toEqual([2, `ipstamp serve: ${line}`]);
    const gateway = await runCli(['gateway', '--issuers', file, '--port', '0', '--upstream', 'http://127.0.0.1:9']);
    expect([gateway.code, gateway.stderr]).toEqual([2, `ipstamp gateway: ${line}`]);
  }, 20_000);
});
