import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIssuerKeyFile, loadIssuersFile, loadKeysFile } from '../../server/cli/load-keys.js';
import { usageError } from '../support/usage-error.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir } from '../support/cli-process.js';

/** Issue 12, item 6: a key file of the wrong kind says what it holds and what belongs there. */
const scratch = scratchDir();
let es: TestKeyPair;
let ed: TestKeyPair;
let hs: TestKeyPair;

beforeAll(async () => {
  es = await makeKey('ES256', 'client-es');
  ed = await makeKey('EdDSA', 'issuer-ed');
  hs = await makeKey('HS256', 'service-hs');
});
afterAll(() => scratch.cleanup());

describe('--keys (the verifier JWK Set)', () => {
  it('one JWK where a JWK Set belongs: says which, and what to write instead', () => {
    const publicOne = scratch.file('one-public.json', es.publicJwk);
    expect(usageError(() => loadKeysFile(publicOne))).toBe(
      `--keys ${publicOne}: holds one public JWK (kid "client-es"), where a JWK Set belongs: {"keys": [ ... ]}`,
    );
    const privateOne = scratch.file('one-private.json', es.privateJwk);
    expect(usageError(() => loadKeysFile(privateOne))).toBe(
      `--keys ${privateOne}: holds one private JWK (kid "client-es"), where a JWK Set of public keys belongs: {"keys": [ ... ]}`,
    );
  });

  it('a set holding a private key is refused, naming the key and the member', () => {
    const withPrivate = scratch.file('private-in-set.json', { keys: [hs.publicJwk, es.privateJwk] });
    expect(usageError(() => loadKeysFile(withPrivate))).toBe(
      `--keys ${withPrivate}: keys[1] (kid "client-es") is a private key (it has "d"); the verifier needs only the public half`,
    );
    // an RSA-style private member is private too, whatever else the key holds
    const rsaish = scratch.file('qi.json', { keys: [{ ...ed.publicJwk, qi: 'AAAA' }] });
    expect(usageError(() => loadKeysFile(rsaish))).toMatch(/keys\[0\] \(kid "issuer-ed"\) is a private key \(it has "qi"\)/);
  });

  it('an HMAC secret (oct, k) is what a verifier legitimately holds: accepted', () => {
    const set = scratch.file('hs.json', { keys: [hs.publicJwk, es.publicJwk] });
    expect(loadKeysFile(set).count).toBe(2);
  });

  it('serve and inspect refuse it with one line, exit 2', async () => {
    const withPrivate = scratch.file('serve-private.json', { keys: [es.privateJwk] });
    const serve = await runCli(['serve', '--keys', withPrivate, '--port', '0']);
    expect([serve.code, serve.stderr]).toEqual([
      2,
      `ipstamp serve: --keys ${withPrivate}: keys[0] (kid "client-es") is a private key (it has "d"); the verifier needs only the public half\n`,
    ]);
    const inspect = await runCli(['inspect', 'a.b.c', '--keys', withPrivate]);
    expect(inspect.code).toBe(2);
    expect(inspect.stderr).toMatch(/^ipstamp inspect: --keys .*: keys\[0\] \(kid "client-es"\) is a private key/);
  });
});

describe('--issuer-key (one private JWK, or a JWK Set with it first)', () => {
  it('a JWK Set whose first key is not private where the signing key belongs', () => {
    const set = scratch.file('issuer-set.json', { keys: [ed.publicJwk, ed.privateJwk] });
    expect(usageError(() => loadIssuerKeyFile(set))).toBe(
      `--issuer-key ${set}: holds a JWK Set (2 keys) whose first key is not private, where one private ES256/EdDSA JWK belongs (the issuer's signing key), or a JWK Set with it first`,
    );
    const empty = scratch.file('issuer-empty.json', { keys: [] });
    expect(usageError(() => loadIssuerKeyFile(empty))).toMatch(/holds a JWK Set \(0 keys\) whose first key is not private/);
    // key rotation: the private key first signs, the others are published (docs/key-rotation.md)
    const rotating = scratch.file('issuer-rotating.json', { keys: [ed.privateJwk, es.publicJwk] });
    expect(loadIssuerKeyFile(rotating)).toEqual({ keys: [ed.privateJwk, es.publicJwk] });
  });

  it('a public JWK where the private one belongs', () => {
    const publicOnly = scratch.file('issuer-public.json', ed.publicJwk);
    expect(usageError(() => loadIssuerKeyFile(publicOnly))).toBe(
      `--issuer-key ${publicOnly}: holds one public JWK (kid "issuer-ed"), where the issuer's private JWK belongs (it has no "d")`,
    );
    expect(loadIssuerKeyFile(scratch.file('issuer-private.json', ed.privateJwk)).kid).toBe('issuer-ed');
  });
});

describe('--issuers (issuer origin → JWK Set or URL)', () => {
  it('a map naming no issuer is refused: with it alone, serve would refuse every request', () => {
    const none = scratch.file('issuers-none.json', {});
    expect(usageError(() => loadIssuersFile(none))).toBe(`--issuers ${none}: names no issuer`);
  });

  it('a bare JWK Set, or one JWK, where the map of issuers belongs', () => {
    const set = scratch.file('issuers-set.json', { keys: [ed.publicJwk] });
    expect(usageError(() => loadIssuersFile(set))).toBe(
      `--issuers ${set}: holds a JWK Set, where a map of issuers belongs: {"https://edge.example.com": {"keys": [ ... ]} | "<URL of its issuer-jwks>"}`,
    );
    const one = scratch.file('issuers-one.json', ed.publicJwk);
    expect(usageError(() => loadIssuersFile(one))).toBe(
      `--issuers ${one}: holds one public JWK (kid "issuer-ed"), where a map of issuers belongs: {"https://edge.example.com": {"keys": [ ... ]} | "<URL of its issuer-jwks>"}`,
    );
  });
});
