import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipstamp } from '../../server/fastify/index.js';
import { ATTACK_CATALOG, AttackSetupError, runAttacks, type Attack, type AttackReport } from '../../server/attack/index.js';
import type { StampAlg } from '../../shared/schema.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { requireBinary } from '../support/binaries.js';
import { freePort } from '../support/ports.js';
import { HOLES, startBrokenVerifier, startGoodVerifier, type Hole } from './broken-verifier.js';

const names = (report: AttackReport, verdict: string): string[] =>
  report.results
    .filter((r) => r.verdict === verdict)
    .map((r) => r.name)
    .sort();

/** What must get through each hole with an ES256 key — no more (no false alarms), no less. */
const GETS_THROUGH: Readonly<Record<Hole, readonly string[]>> = {
  'no-replay-check': ['replay-ecdsa-twin', 'replay-exact', 'replay-flipped-bits', 'replay-race'],
  'leftmost-xff': ['ip-spoofed-xff'],
  'alg-none': ['alg-none-NONE', 'alg-none-None', 'alg-none-nOnE', 'alg-none-none'],
  'no-freshness': ['expired', 'iat-in-future'],
  'no-binding': ['binding-other-method', 'binding-other-origin', 'binding-other-path'],
  'proxy-from-anyone': ['proxy-v1-spoofed', 'proxy-v2-spoofed'],
  'ignore-ip-disagreement': ['ip-spoofed', 'ip-spoofed-forwarded', 'ip-spoofed-x-real-ip', 'ip-spoofed-xff'],
  // sequential replays are caught; only copies in flight together slip between check and insert
  'racy-replay-check': ['replay-race'],
};

/** Attacks that cannot apply to a key of this alg (and must say so rather than pass vacuously). */
const NOT_APPLICABLE: Readonly<Partial<Record<StampAlg, readonly string[]>>> = {
  ES256: ['alg-swap-hmac', 'replay-ed25519-twin'],
  HS256: ['alg-confusion-jwk', 'alg-confusion-pem', 'alg-confusion-raw', 'replay-ecdsa-twin', 'replay-ed25519-twin'],
  EdDSA: ['alg-swap-hmac', 'replay-ecdsa-twin'],
  // a 96-byte ES384 signature fills its last base64url character
  ES384: ['alg-swap-hmac', 'replay-ed25519-twin', 'replay-flipped-bits'],
};

describe('ipstamp attack against the real core behind the real PROXY connection layer', () => {
  for (const alg of Object.keys(NOT_APPLICABLE) as StampAlg[]) {
    it(`${alg}: every attack is rejected for the reason PROTOCOL §5 predicts, every control accepted`, async () => {
      const key = await makeKey(alg);
      const good = await startGoodVerifier(key);
      try {
        const report = await runAttacks({ target: good.url, key: key.privateJwk });
        expect(names(report, 'fail')).toEqual([]);
        expect(names(report, 'warn')).toEqual([]);
        expect(names(report, 'error')).toEqual([]);
        expect(names(report, 'skip')).toEqual([...NOT_APPLICABLE[alg]!].sort());
        expect(report).toMatchObject({ exitCode: 0, ip: '127.0.0.1', ipSource: 'echo', alg, kid: key.kid, notes: [] });
        const got = Object.fromEntries(report.results.map((r) => [r.name, r.got]));
        expect(got).toMatchObject({
          'control-get': '200 accepted (match)',
          'replay-exact': '401 replay',
          'replay-race': '1 of 8 accepted; 7 × 401 replay',
          'alg-none-nOnE': '401 bad-header',
          'ip-spoofed-xff': '403 ip-mismatch',
          'proxy-v2-spoofed': 'connection closed',
        });
      } finally {
        await good.close();
      }
    });
  }
});

describe('ipstamp attack against an https target', () => {
  it('trusts a private CA given as ca; a PROXY header sent before TLS is still refused', async () => {
    const openssl = requireBinary('openssl');
    if (!openssl) return;
    const dir = await mkdtemp(join(tmpdir(), 'ipstamp-tls-'));
    try {
      const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      execFileSync(
        openssl,
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          keyFile,
          '-out',
          certFile,
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-days',
          '1',
        ],
        { stdio: 'ignore' },
      );
      const tls = { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
      const key = await makeKey('ES256');
      const good = await startGoodVerifier(key, tls);
      try {
        await expect(runAttacks({ target: good.url, key: key.privateJwk })).rejects.toThrow(/TLS: /);
        const report = await runAttacks({ target: good.url, key: key.privateJwk, ca: tls.cert });
        expect(names(report, 'fail')).toEqual([]);
        expect(names(report, 'warn')).toEqual([]);
        expect(report.exitCode).toBe(0);
        expect(report.results.find((r) => r.name === 'proxy-v2-spoofed')?.got).toBe('connection closed');
        expect(report.results.find((r) => r.name === 'control-post-digest')?.got).toBe('200 accepted (match)');
      } finally {
        await good.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ipstamp attack against a verifier with one hole', () => {
  let key: TestKeyPair;
  beforeAll(async () => {
    key = await makeKey('ES256');
  });

  for (const hole of HOLES) {
    it(`${hole}: exit 1, naming exactly the attacks that got through`, async () => {
      const broken = await startBrokenVerifier(hole, key);
      try {
        const report = await runAttacks({ target: broken.url, key: key.privateJwk });
        expect(report.exitCode).toBe(1);
        expect(names(report, 'fail')).toEqual([...GETS_THROUGH[hole]].sort());
        for (const r of report.results.filter((x) => x.verdict === 'fail')) expect(r.got).toMatch(/accepted/);
        if (hole === 'ignore-ip-disagreement') {
          expect(report.notes.join('\n')).toMatch(/agreement: mismatch.*onMismatch: 'flag'/s);
        } else {
          expect(report.notes).toEqual([]);
        }
      } finally {
        await broken.close();
      }
    });
  }
});

describe('ipstamp attack against a verifier in report-only mode', () => {
  it('is UNSAFE, and the report says that the route requires no stamp, naming report-only', async () => {
    const key = await makeKey('ES256');
    const app = Fastify();
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, reportOnly: true });
    app.all('/orders', async (request) => ({ served: true, refused: request.ipStampRefusal }));
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const report = await runAttacks({
        target: `${origin}/orders`,
        key: key.privateJwk,
        ip: '127.0.0.1',
        only: ['control-get', 'stamp-missing', 'replay-exact', 'ip-spoofed'],
      });
      expect(names(report, 'fail')).toEqual(['ip-spoofed', 'replay-exact', 'stamp-missing']);
      expect(report).toMatchObject({ verdict: 'UNSAFE', exitCode: 1 });
      expect(report.notes.join('\n')).toMatch(/stamp-missing.*does not require one.*report-only mode \(reportOnly: true, ipstamp gateway --report-only\)/s);
      expect(report.notes.join('\n')).toMatch(/no verifier checks this route at all/);
      // the verifier refused them all the same: what enforcement would have answered
      const refused = app.ipstamp.metrics().rejected;
      expect([refused.missing, refused.replay, refused['ip-mismatch']]).toEqual([1, 1, 1]);
    } finally {
      await app.close();
    }
  });
});

describe('ipstamp attack against a route that requires no stamp, without report-only', () => {
  const ONLY = ['control-get', 'stamp-missing', 'replay-exact', 'alg-none-none'];

  it('an optional route refuses the bad stamps: the note says optional, and blames no report-only mode', async () => {
    const key = await makeKey('ES256');
    const app = Fastify();
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, required: false });
    app.all('/orders', async () => ({ served: true }));
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const report = await runAttacks({ target: `${origin}/orders`, key: key.privateJwk, ip: '127.0.0.1', only: ONLY });
      expect(names(report, 'fail')).toEqual(['stamp-missing']);
      const notes = report.notes.join('\n');
      expect(notes).toMatch(/stamp-missing.*refused every bad stamp.*optional \(required: false\)/s);
      expect(notes).not.toMatch(/report-only|refused by the verifier and served anyway/);
    } finally {
      await app.close();
    }
  });

  it('a target no verifier checks: the note does not say that a verifier refused what got through', async () => {
    const key = await makeKey('ES256');
    const app = Fastify();
    app.all('/orders', async () => ({ served: true }));
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const report = await runAttacks({ target: `${origin}/orders`, key: key.privateJwk, ip: '127.0.0.1', only: ONLY });
      expect(names(report, 'fail')).toEqual(['alg-none-none', 'replay-exact', 'stamp-missing']);
      expect(report.notes.join('\n')).toMatch(/no verifier checks this route at all.*or never checked at all/s);
    } finally {
      await app.close();
    }
  });
});

describe('runAttacks: setup, selection, custom attacks, honesty', () => {
  let key: TestKeyPair;
  let good: Awaited<ReturnType<typeof startGoodVerifier>>;
  beforeAll(async () => {
    key = await makeKey('EdDSA');
    good = await startGoodVerifier(key);
  });
  afterAll(() => good.close());

  it('a target nobody listens on is target-unreachable (the CLI exits 2)', async () => {
    const port = await freePort();
    const run = runAttacks({ target: `http://127.0.0.1:${port}/`, key: key.privateJwk });
    await expect(run).rejects.toBeInstanceOf(AttackSetupError);
    await expect(run).rejects.toMatchObject({ problem: 'target-unreachable' });
    await expect(runAttacks({ target: `http://127.0.0.1:${port}/`, key: key.privateJwk, ip: '127.0.0.1' })).rejects.toMatchObject({
      problem: 'target-unreachable',
    });
  });

  it('an unusable key is key-unusable, and the message never echoes key material', async () => {
    const { d, ...publicOnly } = key.privateJwk;
    for (const bad of [publicOnly, { ...key.privateJwk, kid: undefined }, { ...key.privateJwk, alg: 'RS256' }, { kty: 'oct', kid: 'k', alg: 'HS256' }, null]) {
      const error = await runAttacks({ target: good.url, key: bad as Record<string, unknown> }).catch((e: unknown) => e);
      expect(error).toMatchObject({ problem: 'key-unusable', code: 'ERR_IPSTAMP_ATTACK_KEY_UNUSABLE' });
      expect(String((error as Error).message)).not.toContain(String(d));
    }
    const es256 = await makeKey('ES256');
    await expect(runAttacks({ target: good.url, key: { ...es256.privateJwk, alg: 'ES384' } })).rejects.toMatchObject({ problem: 'key-unusable' });
  });

  it('--only runs just the named attacks; an unknown name is a TypeError', async () => {
    const report = await runAttacks({ target: good.url, key: key.privateJwk, only: ['replay-exact', 'control-get'], ip: '127.0.0.1' });
    expect(report.results.map((r) => r.name)).toEqual(['control-get', 'replay-exact']);
    expect(report).toMatchObject({ ipSource: 'given', exitCode: 0 });
    await expect(runAttacks({ target: good.url, key: key.privateJwk, only: ['no-such-attack'] })).rejects.toThrow(TypeError);
  });

  it('a wrong --ip makes the controls fail: INCONCLUSIVE (exit 2), not UNSAFE, and the report says which control got what', async () => {
    const report = await runAttacks({ target: good.url, key: key.privateJwk, ip: '192.0.2.77', only: ['control-get', 'ip-spoofed', 'replay-exact'] });
    expect(names(report, 'fail')).toEqual(['control-get', 'replay-exact']);
    expect(report.notes[0]).toMatch(/control was refused/);
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
    const reasons = report.inconclusive.join('\n');
    expect(reasons).toMatch(/control-get.*403 ip-mismatch/);
    expect(reasons).toMatch(/replay-exact.*original.*403 ip-mismatch/);
  });

  it('an attack accepted while a control of its kind was refused is INCONCLUSIVE, and says it was accepted', async () => {
    const attacks: Attack[] = [
      { name: 'control-refused', description: 'a control the target refuses', expect: { accept: true }, build: (ctx) => ctx.http(undefined) },
      { name: 'accepted', description: 'an "attack" that is legitimate', expect: { reject: true }, build: async (ctx) => ctx.http(await ctx.stamp()) },
    ];
    const report = await runAttacks({ target: good.url, key: key.privateJwk, attacks });
    expect(report.results.map((r) => r.verdict)).toEqual(['fail', 'fail']);
    expect(report).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
    const reasons = report.inconclusive.join('\n');
    expect(reasons).toMatch(/control-refused.*401 missing/);
    expect(reasons).toMatch(/accepted/);
  });

  it('users add attacks without touching the runner; a rejection for another reason is a warning, not a failure', async () => {
    const attacks: Attack[] = [
      {
        name: 'custom-unknown-claim',
        description: 'Unknown claims are ignored (PROTOCOL §2.2).',
        expect: { accept: true },
        build: (ctx) => ctx.http(ctx.sign(ctx.header(), ctx.claims({ claims: { tenant: 'acme' } }))),
      },
      {
        name: 'custom-wrong-prediction',
        description: 'Predicts replay for what is really a bad header.',
        expect: { reject: true, reason: 'replay' },
        build: (ctx) => ctx.http(ctx.sign(ctx.header({ typ: 'JWT' }), ctx.claims())),
      },
    ];
    const report = await runAttacks({ target: good.url, key: key.privateJwk, attacks });
    expect(report.results.map((r) => [r.name, r.verdict, r.got])).toEqual([
      ['custom-unknown-claim', 'pass', '200 accepted (match)'],
      ['custom-wrong-prediction', 'warn', '401 bad-header'],
    ]);
    expect(report.results[1]!.note).toMatch(/another reason \(bad-header\).*\(replay\)/);
    expect(report.summary).toMatchObject({ passed: 1, warnings: 1, failed: 0 });
    expect(report.exitCode).toBe(0);
  });

  it('an attack whose build throws is reported as an error (exit 2), the run goes on', async () => {
    const attacks: Attack[] = [
      {
        name: 'broken-build',
        description: 'throws',
        expect: { reject: true },
        build: () => {
          throw new Error('oops');
        },
      },
      { name: 'after', description: 'still runs', expect: { accept: true }, build: async (ctx) => ctx.http(await ctx.stamp()) },
    ];
    const report = await runAttacks({ target: good.url, key: key.privateJwk, attacks });
    expect(report.results.map((r) => r.verdict)).toEqual(['error', 'pass']);
    expect(report.exitCode).toBe(2);
  });

  it('a target that never answers is bounded by the timeout: a control fails, an attack only warns', async () => {
    const held = new Set<Socket>();
    const tarpit: Server = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve));
    const { port } = tarpit.address() as { port: number };
    try {
      const report = await runAttacks({
        target: `http://127.0.0.1:${port}/`,
        key: key.privateJwk,
        ip: '127.0.0.1',
        timeoutMs: 200,
        only: ['control-get', 'stamp-missing'],
      });
      // the requests reached the tarpit, which never answered: the runner's own timeout ended them
      expect(held.size).toBeGreaterThan(0);
      expect(report.results.map((r) => [r.verdict, r.got])).toEqual([
        ['fail', 'no answer in 200 ms'],
        ['warn', 'no answer in 200 ms'],
      ]);
      // the whole catalog against it stops at the run's budget instead of taking minutes
      const bounded = await runAttacks({ target: `http://127.0.0.1:${port}/`, key: key.privateJwk, ip: '127.0.0.1', timeoutMs: 200, maxRunMs: 500 });
      expect(bounded.exitCode).toBe(2);
      expect(bounded.results.at(-1)).toMatchObject({ verdict: 'error', got: 'not run' });
      expect(bounded.results).toHaveLength(ATTACK_CATALOG.length);
    } finally {
      for (const socket of held) socket.destroy();
      tarpit.close();
    }
  });
});
