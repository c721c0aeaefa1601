import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { exportJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch, importSigningKey, loadStampKey, type AddressFetchOptions } from '../../client/index.node.js';
import type { StampAlg } from '../../shared/schema.js';
import { makeKey } from '../support/keys.js';
import { startVerifyingServer } from '../support/verifying-server.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipstamp-keys-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Signs one request with this key and returns what a verifier holding `publicJwk` says. */
async function roundTrip(key: AddressFetchOptions['key'], publicJwk: JWK): Promise<{ status: number; body: Record<string, unknown> }> {
  const server = await startVerifyingServer({ keys: [publicJwk] });
  try {
    const stampedFetch = createStampedFetch({ key, ip: '127.0.0.1', bodyDigest: true });
    const response = await stampedFetch(`${server.origin}/k`, { method: 'POST', body: 'payload' });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } finally {
    await server.close();
  }
}

async function writeKeyFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const ALGS: StampAlg[] = ['HS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'];

describe('key forms', () => {
  for (const alg of ALGS) {
    it(`${alg}: a private JWK object`, async () => {
      const key = await makeKey(alg);
      expect(await roundTrip(key.privateJwk, key.publicJwk)).toMatchObject({ status: 200, body: { alg, kid: key.kid } });
    });

    it(`${alg}: a JWK file loaded with loadStampKey`, async () => {
      const key = await makeKey(alg);
      const loaded = await loadStampKey(await writeKeyFile(`${alg}.jwk.json`, key.privateJwk));
      expect(loaded).toMatchObject({ kid: key.kid, alg });
      expect(await roundTrip(loaded, key.publicJwk)).toMatchObject({ status: 200 });
    });
  }

  it('a loaded key shows no key material to console.log or JSON.stringify, an HMAC one too, and still signs', async () => {
    for (const alg of ['HS256', 'HS384', 'HS512', 'ES256', 'EdDSA'] as const) {
      const key = await makeKey(alg);
      const secret = key.privateJwk.k ?? key.privateJwk.d!;
      const secretBytes = Buffer.from(secret, 'base64url');
      for (const loaded of [await importSigningKey(key.privateJwk), await loadStampKey(await writeKeyFile(`${alg}-shown.jwk.json`, key.privateJwk))]) {
        // Node prints a Uint8Array's bytes as a list of numbers: the first four in a row are a leak
        const shown = inspect(loaded, { depth: Infinity, showHidden: true }).replace(/\s+/g, '');
        expect([shown.includes(secret), shown.includes([...secretBytes.subarray(0, 4)].join(','))]).toEqual([false, false]);
        expect(JSON.parse(JSON.stringify(loaded))).toEqual({ kid: key.kid, alg, key: {} });
        expect(loaded.key).not.toBeInstanceOf(Uint8Array);
        expect(await roundTrip(loaded, key.publicJwk)).toMatchObject({ status: 200, body: { alg, kid: key.kid } });
      }
    }
  });

  it('a JWK Set file: its one private key, or the one named by kid', async () => {
    const a = await makeKey('ES256', 'key-a');
    const b = await makeKey('EdDSA', 'key-b');
    const single = await writeKeyFile('single-set.json', { keys: [a.publicJwk, a.privateJwk] });
    expect(await loadStampKey(single)).toMatchObject({ kid: 'key-a' });
    const both = await writeKeyFile('set.json', { keys: [a.privateJwk, b.privateJwk] });
    const picked = await loadStampKey(both, { kid: 'key-b' });
    expect(await roundTrip(picked, b.publicJwk)).toMatchObject({ status: 200, body: { kid: 'key-b' } });
    await expect(loadStampKey(both)).rejects.toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE' });
  });

  it('a node:crypto KeyObject with kid and alg', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'ko', alg: 'ES256' };
    expect(await roundTrip({ key: privateKey, kid: 'ko', alg: 'ES256' }, publicJwk)).toMatchObject({ status: 200, body: { kid: 'ko' } });
    const ed = generateKeyPairSync('ed25519');
    const edPublic = { ...(await exportJWK(ed.publicKey)), kid: 'ko-ed', alg: 'EdDSA' };
    expect(await roundTrip({ key: ed.privateKey, kid: 'ko-ed', alg: 'EdDSA' }, edPublic)).toMatchObject({ status: 200 });
  });

  it('a KeyObject made from a PEM file', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'pem', alg: 'ES384' };
    expect(await roundTrip({ key: createPrivateKey(pem), kid: 'pem', alg: 'ES384' }, publicJwk)).toMatchObject({ status: 200 });
  });

  it('a non-extractable WebCrypto CryptoKey (what a browser keeps)', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    expect(pair.privateKey.extractable).toBe(false);
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'ck', alg: 'ES256' };
    expect(await roundTrip({ key: pair.privateKey, kid: 'ck', alg: 'ES256' }, publicJwk)).toMatchObject({ status: 200, body: { kid: 'ck' } });
    const ed = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const edPublic = { ...(await exportJWK(ed.publicKey)), kid: 'ck-ed', alg: 'Ed25519' };
    expect(await roundTrip({ key: ed.privateKey, kid: 'ck-ed', alg: 'Ed25519' }, edPublic)).toMatchObject({ status: 200 });
  });

  it('HMAC secret bytes (Uint8Array) with kid and alg', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const publicJwk = { kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: 'hs', alg: 'HS256' };
    expect(await roundTrip({ key: secret, kid: 'hs', alg: 'HS256' }, publicJwk)).toMatchObject({ status: 200 });
  });

  it('a key the verifier does not hold is rejected (the round trip can fail)', async () => {
    const signer = await makeKey('ES256', 'same-kid');
    const other = await makeKey('ES256', 'same-kid');
    expect(await roundTrip(signer.privateJwk, other.publicJwk)).toMatchObject({ status: 401, body: { reason: 'bad-signature' } });
  });
});

describe('loadStampKey refusals', () => {
  it('a missing file → ERR_IPSTAMP_KEY_FILE saying it cannot be read (not that it holds no key), the fs error as cause', async () => {
    const path = join(dir, 'missing.json');
    const error = await loadStampKey(path).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE', message: `cannot read the key file ${JSON.stringify(path)}: ENOENT` });
    expect((error as Error).cause).toMatchObject({ code: 'ENOENT' });
    // a directory cannot be read as a file either
    await expect(loadStampKey(dir)).rejects.toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE', message: `cannot read the key file ${JSON.stringify(dir)}: EISDIR` });
  });

  it('an unknown option is a TypeError naming it', async () => {
    await expect(loadStampKey(join(dir, 'missing.json'), { kdi: 'a' } as never)).rejects.toThrow(new TypeError('unknown option "kdi" (did you mean "kid"?)'));
  });

  it('a file that is not JSON: the error carries none of its text', async () => {
    const secret = 'SECRET-MATERIAL-do-not-log';
    const error = await loadStampKey(await writeKeyFile('broken.json', `{"kty":"oct","k":"${secret}"`)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE' });
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever the cause prints must not hold the secret
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as Error).cause ?? '')).not.toContain(secret);
  });

  it('a public key only, a key without kid, an unsupported alg, duplicate members, not an object → ERR_IPSTAMP_KEY_FILE', async () => {
    const key = await makeKey('ES256');
    const { kid: _kid, ...noKid } = key.privateJwk;
    const cases = [
      key.publicJwk,
      noKid,
      { ...key.privateJwk, alg: 'RS256' },
      '{"kty":"oct","k":"AAAA","kty":"oct"}',
      [key.privateJwk],
      { keys: [key.publicJwk] },
    ];
    for (const [i, content] of cases.entries()) {
      await expect(loadStampKey(await writeKeyFile(`bad-${i}.json`, content))).rejects.toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE' });
    }
  });

  it('an oversized file is refused without being parsed', async () => {
    await expect(loadStampKey(await writeKeyFile('huge.json', ' '.repeat(70_000)))).rejects.toMatchObject({ code: 'ERR_IPSTAMP_KEY_FILE' });
  });
});
