import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { runCli, scratchDir, startServe } from '../support/cli-process.js';

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

  it('HS* without --jwks: the secret goes to stdout only, never to stderr (where logs collect)', async () => {
    const result = await runCli(['keygen', '--alg', 'HS384', '--kid', 'svc-2']);
    expect(result.code).toBe(0);
    const secret = JSON.parse(result.stdout) as Record<string, string>;
    expect(secret).toMatchObject({ kty: 'oct', kid: 'svc-2', alg: 'HS384' });
    expect(result.stderr).not.toContain(secret.k!);
    expect(result.stderr).toMatch(/warning: HS384 is a shared secret/);
  });

  it('refuses bad flags with one line and exit 2', async () => {
    for (const [args, message] of [
      [['--alg', 'RS256', '--kid', 'k'], 'ipstamp keygen: --alg must be one of HS256, HS384, HS512, ES256, ES384, EdDSA, Ed25519'],
      [['--kid', 'k'], 'ipstamp keygen: --alg HS256|HS384|HS512|ES256|ES384|EdDSA|Ed25519 is required'],
      [['--alg', 'ES256'], 'ipstamp keygen: --kid KID is required'],
      [['--alg', 'ES256', '--kid', 'has space'], 'ipstamp keygen: --kid must be 1–128 characters of [A-Za-z0-9._:-]'],
      [['--alg', 'ES256', '--kid', 'k', '--allowed-ips', '10.0.0.0/40'], 'ipstamp keygen: --allowed-ips: invalid CIDR prefix in "10.0.0.0/40"'],
      [
        ['--alg', 'ES256', '--kid', 'k', '--jwks', scratch.file('notset.json', '[1]')],
        `ipstamp keygen: --jwks ${join(scratch.dir, 'notset.json')}: not a JSON object, or a member name is repeated`,
      ],
    ] as const) {
      const result = await runCli(['keygen', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`${message}\n`);
    }
  });

  describe('every destination is checked before anything is written (issue 12, item 6)', () => {
    const entries = () => readdirSync(scratch.dir).sort();

    it('a --jwks in a missing directory: no private key left behind, a message naming --jwks', async () => {
      const before = entries();
      const out = join(scratch.dir, 'orphan.private.json');
      const jwks = join(scratch.dir, 'no-such-dir', 'keys.json');
      const result = await runCli(['keygen', '--alg', 'ES256', '--kid', 'orphan', '--out', out, '--jwks', jwks]);
      expect([result.code, result.stderr]).toEqual([2, `ipstamp keygen: --jwks ${jwks}: the directory ${join(scratch.dir, 'no-such-dir')} does not exist\n`]);
      expect(result.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
      expect(entries()).toEqual(before);
    });

    it('an --out in a missing directory: the JWK Set is left as it was', async () => {
      const jwks = scratch.file('untouched.json', { keys: [] });
      const out = join(scratch.dir, 'nowhere', 'k.json');
      const result = await runCli(['keygen', '--alg', 'EdDSA', '--kid', 'lost', '--out', out, '--jwks', jwks]);
      expect([result.code, result.stderr]).toEqual([2, `ipstamp keygen: --out ${out}: the directory ${join(scratch.dir, 'nowhere')} does not exist\n`]);
      expect(read(jwks).keys).toEqual([]);
    });

    it('a directory that cannot be written, a directory given as the file, and one file named twice', async () => {
      const locked = join(scratch.dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      try {
        const root = process.getuid?.() === 0; // root writes anywhere: the access check cannot refuse
        const jwks = join(locked, 'keys.json');
        const result = await runCli(['keygen', '--alg', 'ES256', '--kid', 'x', '--out', join(scratch.dir, 'x.json'), '--jwks', jwks]);
        if (!root) {
          expect([result.code, result.stderr]).toEqual([2, `ipstamp keygen: --jwks ${jwks}: the directory ${locked} is not writable\n`]);
          expect(existsSync(join(scratch.dir, 'x.json'))).toBe(false);
        }
      } finally {
        chmodSync(locked, 0o700);
      }
      const asDir = await runCli(['keygen', '--alg', 'ES256', '--kid', 'x', '--jwks', locked]);
      expect([asDir.code, asDir.stderr]).toEqual([2, `ipstamp keygen: --jwks ${locked}: is a directory, not a file\n`]);
      const same = join(scratch.dir, 'same.json');
      const twice = await runCli(['keygen', '--alg', 'ES256', '--kid', 'x', '--out', same, '--jwks', same]);
      expect([twice.code, twice.stderr]).toEqual([2, 'ipstamp keygen: --out and --jwks name the same file; the private key and the JWK Set need one each\n']);
      expect(existsSync(same)).toBe(false);
    });

    it('a --jwks holding a key a verifier refuses gains nothing: exit 2 naming that key, no --out, the set as it was', async () => {
      const other = await runCli(['keygen', '--alg', 'EdDSA', '--kid', 'other']);
      const { d: _d, ...publicHalf } = JSON.parse(other.stdout) as Record<string, string>;
      const cases: [string, Record<string, unknown>[], string][] = [
        ['marked.json', [{ ...publicHalf, use: 'enc' }], 'keys[0]: use must be "sig" when present (this key is marked for something else)'],
        ['wrong-alg.json', [{ ...publicHalf, alg: 'ES256' }], 'keys[0]: key does not fit alg ES256'],
        [
          'private.json',
          [publicHalf, { ...JSON.parse(other.stdout), kid: 'leaked' }],
          'keys[1]: is a private key (it has "d"); the verifier needs only the public half',
        ],
        ['twice.json', [publicHalf, publicHalf], 'keys[1]: duplicate kid'],
      ];
      for (const [name, keys, why] of cases) {
        const jwks = scratch.file(name, { keys });
        const before = readFileSync(jwks, 'utf8');
        const out = join(scratch.dir, `${name}.private`);
        const result = await runCli(['keygen', '--alg', 'ES256', '--kid', 'new', '--out', out, '--jwks', jwks]);
        expect([result.code, result.stderr]).toEqual([
          2,
          `ipstamp keygen: --jwks ${jwks}: ${why}; a verifier would refuse this set (serve --keys), so fix or remove that key first\n`,
        ]);
        expect(result.stdout).toBe('');
        expect(existsSync(out)).toBe(false);
        expect(readFileSync(jwks, 'utf8')).toBe(before);
      }
    });

    it('a --jwks that holds one JWK (the private key file, say) is named for what it is', async () => {
      const single = scratch.file('single.private.json', { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43), d: 'B'.repeat(43), kid: 'k', alg: 'EdDSA' });
      const result = await runCli(['keygen', '--alg', 'ES256', '--kid', 'y', '--jwks', single]);
      expect([result.code, result.stderr]).toEqual([
        2,
        `ipstamp keygen: --jwks ${single}: holds one private JWK (kid "k"), where a JWK Set belongs: {"keys": [ ... ]}\n`,
      ]);
    });
  });
});
