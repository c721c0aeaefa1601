import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { runCli, scratchDir, startServe } from './cli-process.js';

const scratch = scratchDir();
afterAll(() => scratch.cleanup());

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> & { keys: Record<string, unknown>[] };
const mode = (path: string) => statSync(path).mode & 0o777;

describe('ipstamp keygen', () => {
  it('keygen → serve → stamp: the generated keys round-trip, allowed_ips included', async () => {
    const jwks = join(scratch.dir, 'round.json');
    const es = await runCli(['keygen', '--alg', 'ES256', '--kid', 'phone-1', '--allowed-ips', '127.0.0.0/8,::1', '--jwks', jwks]);
    expect(es.code).toBe(0);
    const privateJwk = JSON.parse(es.stdout) as Record<string, string>;
    expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: 'phone-1', alg: 'ES256' });
    expect(privateJwk.d).toBeTypeOf('string');
    const out = join(scratch.dir, 'ed.private.json');
    expect((await runCli(['keygen', '--alg', 'EdDSA', '--kid', 'laptop', '--out', out, '--jwks', jwks])).code).toBe(0);
    const edJwk = read(out);

    const set = read(jwks);
    expect(set.keys.map((k) => k.kid)).toEqual(['phone-1', 'laptop']);
    expect(set.keys[0]).toMatchObject({ allowed_ips: ['127.0.0.0/8', '::1'] });
    expect(set.keys.every((k) => k.d === undefined)).toBe(true);

    const serve = await startServe(['--port', '0', '--keys', jwks]);
    try {
      expect(serve.startLine).toContain('2 keys from');
      for (const key of [privateJwk, edJwk]) {
        const url = `${serve.url}/hello`;
        const token = await createStamper({ key: key as never, ip: '127.0.0.1' }).stamp({ method: 'GET', url });
        const response = await fetch(url, { headers: { 'client-ip-attestation': token } });
        expect(await response.json()).toMatchObject({ kid: key.kid, agreement: 'match' });
      }
      // allowed_ips travelled into the set: an address outside it is refused
      const outside = await createStamper({ key: privateJwk as never, ip: '198.51.100.1' }).stamp({ method: 'GET', url: `${serve.url}/x` });
      const refused = await fetch(`${serve.url}/x`, { headers: { 'client-ip-attestation': outside } });
      expect(((await refused.json()) as { reason: string }).reason).toBe('ip-not-allowed');
    } finally {
      await serve.stop();
    }
  });

  it('--out is written 0600 and never overwritten; a duplicate kid is refused before anything is written', async () => {
    const out = join(scratch.dir, 'k.json');
    const jwks = join(scratch.dir, 'dup.json');
    expect((await runCli(['keygen', '--alg', 'ES384', '--kid', 'a', '--out', out, '--jwks', jwks])).code).toBe(0);
    expect(mode(out)).toBe(0o600);
    const first = readFileSync(out, 'utf8');

    const again = await runCli(['keygen', '--alg', 'ES384', '--kid', 'b', '--out', out, '--jwks', jwks]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`ipstamp keygen: --out ${out}: exists; refusing to overwrite a key\n`);
    expect(readFileSync(out, 'utf8')).toBe(first);

    const dup = await runCli(['keygen', '--alg', 'ES256', '--kid', 'a', '--out', join(scratch.dir, 'new.json'), '--jwks', jwks]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toBe(`ipstamp keygen: --jwks ${jwks}: already holds a key with kid "a"; pick another --kid\n`);
    expect(existsSync(join(scratch.dir, 'new.json'))).toBe(false);
    expect(read(jwks).keys).toHaveLength(1);
  });

  it('HS*: the set holds the secret itself, is narrowed to 0600, keeps other members, and a warning says so', async () => {
    const jwks = scratch.file('hs.json', { keys: [], note: 'kept' });
    const result = await runCli(['keygen', '--alg', 'HS256', '--kid', 'svc', '--jwks', jwks]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: HS256 is a shared secret/);
    const secret = JSON.parse(result.stdout) as Record<string, string>;
    expect(Buffer.from(secret.k!, 'base64url')).toHaveLength(32);
    const set = read(jwks);
    expect(set.note).toBe('kept');
    expect(set.keys).toEqual([secret]);
    expect(mode(jwks)).toBe(0o600);
  });

  it('refuses bad flags with one line and exit 2', async () => {
    for (const [args, message] of [
      [['--alg', 'RS256', '--kid', 'k'], 'ipstamp keygen: --alg must be one of HS256, HS384, HS512, ES256, ES384, EdDSA, Ed25519'],
      [['--alg', 'ES256'], 'ipstamp keygen: --kid KID is required'],
      [['--alg', 'ES256', '--kid', 'has space'], 'ipstamp keygen: --kid must be 1–128 characters of [A-Za-z0-9._:-]'],
      [['--alg', 'ES256', '--kid', 'k', '--allowed-ips', '10.0.0.0/40'], 'ipstamp keygen: --allowed-ips: invalid CIDR prefix in "10.0.0.0/40"'],
      [['--alg', 'ES256', '--kid', 'k', '--jwks', scratch.file('notset.json', '[1]')], `ipstamp keygen: --jwks ${join(scratch.dir, 'notset.json')}: not a JSON object, or a member name is repeated`],
    ] as const) {
      const result = await runCli(['keygen', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`${message}\n`);
    }
  });
});
