import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIssuersFile } from '../../server/cli/load-keys.js';
import { usageError } from '../support/usage-error.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir } from '../support/cli-process.js';

/**
 * `--issuers FILE` (serve, gateway) refuses an issuer's private signing key the way `--keys`
 * refuses a client's: one line naming the issuer, the key and the member, exit 2.
 */
const scratch = scratchDir();
let ed: TestKeyPair;
let es: TestKeyPair;
const EDGE = 'https://edge.example';

beforeAll(async () => {
  ed = await makeKey('EdDSA', 'edge-1');
  es = await makeKey('ES256', 'edge-2');
});
afterAll(() => scratch.cleanup());

describe('--issuers refuses an issuer private key', () => {
  it('a private key in an issuer JWK Set, or as the entry itself, is named by issuer, index, kid and member', () => {
    const inSet = scratch.file('in-set.json', {
      'https://other.example': 'https://other.example/.well-known/ipstamp/issuer-jwks',
      [EDGE]: { keys: [es.publicJwk, ed.privateJwk] },
    });
    expect(usageError(() => loadIssuersFile(inSet))).toBe(
      `--issuers ${inSet}: "${EDGE}".keys[1] (kid "edge-1") is a private key (it has "d"); the verifier needs only the issuer's public half`,
    );
    const bare = scratch.file('bare.json', { [EDGE]: es.privateJwk });
    expect(usageError(() => loadIssuersFile(bare))).toBe(
      `--issuers ${bare}: "${EDGE}" (kid "edge-2") is a private key (it has "d"); the verifier needs only the issuer's public half`,
    );
    const rsaish = scratch.file('rsaish.json', { [EDGE]: { keys: [{ ...ed.publicJwk, qi: 'AAAA' }] } });
    expect(usageError(() => loadIssuersFile(rsaish))).toMatch(/"https:\/\/edge\.example"\.keys\[0\] \(kid "edge-1"\) is a private key \(it has "qi"\)/);
  });

  it('public keys and URLs load as before', () => {
    const good = scratch.file('good.json', { [EDGE]: { keys: [ed.publicJwk, es.publicJwk] }, 'https://other.example': 'https://other.example/jwks' });
    expect(loadIssuersFile(good).count).toBe(2);
  });

  it('serve and gateway refuse it with one line, exit 2, and never echo the key', async () => {
    const file = scratch.file('issuers.json', { [EDGE]: { keys: [ed.privateJwk] } });
    const line = `--issuers ${file}: "${EDGE}".keys[0] (kid "edge-1") is a private key (it has "d"); the verifier needs only the issuer's public half\n`;
    // a serve that starts after all is killed by runCli, before the test's own timeout
    const serve = await runCli(['serve', '--issuers', file, '--port', '0']);
    expect([serve.code, serve.stderr]).toEqual([2, `ipstamp serve: ${line}`]);
    const gateway = await runCli(['gateway', '--issuers', file, '--port', '0', '--upstream', 'http://127.0.0.1:9']);
    expect([gateway.code, gateway.stderr]).toEqual([2, `ipstamp gateway: ${line}`]);
    expect(serve.stderr + serve.stdout + gateway.stderr + gateway.stdout).not.toContain(String(ed.privateJwk.d));
  }, 15_000);
});
