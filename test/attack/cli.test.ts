import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { exportJWK, generateKeyPair } from 'jose';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipstamp } from '../../server/fastify/plugin.js';
import { requireBinary } from '../support/binaries.js';
import { makeTestCertificate } from '../support/tls-certificate.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { freePort } from '../support/ports.js';
import { runCli, startServe, type RunningServe } from '../support/cli-process.js';
import { startBrokenVerifier, startGoodVerifier } from './broken-verifier.js';
import { ATTACK_CATALOG, TICKET_ATTACK_CATALOG } from '../../server/attack/index.js';

let dir: string;
let key: TestKeyPair;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipstamp-attack-'));
  key = await makeKey('ES256');
  keyFile = join(dir, 'client.jwk.json');
  await writeFile(keyFile, JSON.stringify(key.privateJwk));
  await writeFile(join(dir, 'keys.jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ipstamp attack (built CLI)', () => {
  it('against a safe verifier: one line per attack, a summary, exit 0, nothing on a non-TTY stderr', async () => {
    const good = await startGoodVerifier(key);
    try {
      const run = await runCli(['attack', '--target', good.url, '--key', keyFile]);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/^\s+replay-exact\s+reject 401 replay\s+401 replay\s+PASS$/m);
      expect(run.stdout).toMatch(/^\s+proxy-v1-spoofed\s+reject: close connection\s+connection closed\s+PASS$/m);
      expect(run.stdout).toMatch(/50 attacks: 48 passed, 0 failed, 2 not applicable/);
      expect(run.stdout).toMatch(/^SAFE/m);
    } finally {
      await good.close();
    }
  });

  it('against alg none accepted: exit 1, the JSON and the Markdown report name the attacks that got through', async () => {
    const broken = await startBrokenVerifier('alg-none', key);
    const reportFile = join(dir, 'report.md');
    try {
      const run = await runCli(['attack', '--target', broken.url, '--key', keyFile, '--json', '--report', reportFile]);
      expect(run.code).toBe(1);
      const report = JSON.parse(run.stdout) as { exitCode: number; results: { name: string; verdict: string; got: string }[] };
      expect(report.exitCode).toBe(1);
      expect(report.results.filter((r) => r.verdict === 'fail').map((r) => r.name)).toEqual([
        'alg-none-none',
        'alg-none-None',
        'alg-none-NONE',
        'alg-none-nOnE',
      ]);
      const markdown = await readFile(reportFile, 'utf8');
      expect(markdown).toMatch(/\*\*UNSAFE\*\*/);
      expect(markdown).toMatch(/\| `alg-none-nOnE` \| .* \| reject 401 bad-header \| 200 accepted \(match\) \| \*\*FAIL\*\* \|/);
    } finally {
      await broken.close();
    }
  });

  it('exit 2 with one line when the target is down or the key file is unusable; bad flags are usage errors', async () => {
    const port = await freePort();
    const down = await runCli(['attack', '--target', `http://127.0.0.1:${port}/`, '--key', keyFile]);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/^ipstamp attack: the target cannot be reached \(http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\)\n$/);

    const publicFile = join(dir, 'public.jwk.json');
    await writeFile(publicFile, JSON.stringify(key.publicJwk));
    const good = await startGoodVerifier(key);
    try {
      for (const file of [publicFile, join(dir, 'missing.json')]) {
        const run = await runCli(['attack', '--target', good.url, '--key', file]);
        expect(run.code).toBe(2);
        expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
        expect(run.stderr).toMatch(/^ipstamp attack: the key is not a usable private JWK/);
        expect(run.stderr).not.toContain(String(key.publicJwk.x));
      }
      expect((await runCli(['attack', '--target', good.url, '--key', keyFile, '--only', 'nope'])).stderr).toMatch(
        /^ipstamp attack: only: no attack named "nope"/,
      );
      expect((await runCli(['attack', '--target', good.url, '--race', '1'])).code).toBe(2);
    } finally {
      await good.close();
    }
  });
});

describe('ipstamp attack: flags and exit codes', () => {
  it('--list names every attack, the ticket ones too, and exits 0 without a target', async () => {
    const run = await runCli(['attack', '--list']);
    expect(run.code).toBe(0);
    const names = run.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]);
    for (const a of [...ATTACK_CATALOG, ...TICKET_ATTACK_CATALOG]) expect(names).toContain(a.name);
    expect(names).toHaveLength(ATTACK_CATALOG.length + TICKET_ATTACK_CATALOG.length);
  });

  it('usage errors are exit 2 and name the flag; a bound itself is accepted', async () => {
    const port = await freePort();
    const down = `http://127.0.0.1:${port}/`;
    expect(await runCli(['attack', '--key', keyFile])).toEqual({ code: 2, stdout: '', stderr: 'ipstamp attack: --target URL is required\n' });
    expect((await runCli(['attack', '--target', down])).stderr).toBe('ipstamp attack: --key FILE is required (or --issuer URL for the ticket attacks alone)\n');
    // --issuer alone is enough: the run starts (and finds the target down) instead of asking for --key
    const issuerOnly = await runCli(['attack', '--target', down, '--issuer', down]);
    expect(issuerOnly.code).toBe(2);
    expect(issuerOnly.stderr).toMatch(/^ipstamp attack: the target cannot be reached/);
    for (const [flag, low, high] of [
      ['--timeout', '50', '60000'],
      ['--race', '2', '64'],
    ] as const) {
      for (const value of [low, high]) {
        const run = await runCli(['attack', '--target', down, '--key', keyFile, flag, value]);
        expect(run.stderr).toMatch(/^ipstamp attack: the target cannot be reached/);
      }
      for (const value of [String(Number(low) - 1), String(Number(high) + 1)]) {
        const run = await runCli(['attack', '--target', down, '--key', keyFile, flag, value]);
        expect(run).toEqual({ code: 2, stdout: '', stderr: `ipstamp attack: ${flag} must be a whole number from ${low} to ${high}\n` });
      }
    }
  });

  it('a report file that cannot be written is exit 2, whatever the verdict', async () => {
    const good = await startGoodVerifier(key);
    try {
      const run = await runCli(['attack', '--target', good.url, '--key', keyFile, '--only', 'replay-exact', '--report', join(dir, 'no-such-dir', 'r.md')]);
      expect(run.stdout).toMatch(/^SAFE/m);
      expect(run.stderr).toBe('ipstamp attack: cannot write the report file\n');
      expect(run.code).toBe(2);
    } finally {
      await good.close();
    }
  });

  it('--ip the target does not see: the controls are refused, INCONCLUSIVE, exit 2 (never SAFE)', async () => {
    const good = await startGoodVerifier(key);
    try {
      const run = await runCli(['attack', '--target', good.url, '--key', keyFile, '--only', 'replay-exact', '--ip', '192.0.2.1']);
      expect(run.stdout).toMatch(/^INCONCLUSIVE/m);
      expect(run.code).toBe(2);
    } finally {
      await good.close();
    }
  });
});

interface JsonReport {
  verdict: string;
  exitCode: number;
  method: string;
  target: string;
  ip: string;
  results: { name: string; verdict: string; got: string }[];
}
const parseReport = (stdout: string): JsonReport => JSON.parse(stdout) as JsonReport;
const gotOf = (report: JsonReport): Record<string, string> => Object.fromEntries(report.results.map((r) => [r.name, r.got]));

describe('ipstamp attack: the other flags reach the harness, checked', () => {
  it('--skew and --ticket-wait: bounds accepted, one past refused; a number that is not plain digits is refused', async () => {
    const down = `http://127.0.0.1:${await freePort()}/`;
    const attack = (...extra: string[]) => runCli(['attack', '--target', down, '--key', keyFile, ...extra]);
    const cases: [flag: string, value: string, error: string | undefined][] = [
      ['--skew', '0', undefined],
      ['--skew', '86400', undefined],
      ['--skew', '86401', 'from 0 to 86400'],
      ['--ticket-wait', '0', undefined],
      ['--ticket-wait', '900', undefined],
      ['--ticket-wait', '901', 'from 0 to 900'],
      // Number() would take each of these: the flag says "a whole number", written as one
      ['--timeout', '1e3', 'from 50 to 60000'],
      ['--timeout', '0x100', 'from 50 to 60000'],
      ['--race', '8.0', 'from 2 to 64'],
      ['--race', '+8', 'from 2 to 64'],
    ];
    const runs = await Promise.all(cases.map(([flag, value]) => attack(flag, value)));
    cases.forEach(([flag, , error], i) => {
      if (error === undefined) expect(runs[i]!.stderr).toMatch(/^ipstamp attack: the target cannot be reached/);
      else expect(runs[i]).toEqual({ code: 2, stdout: '', stderr: `ipstamp attack: ${flag} must be a whole number ${error}\n` });
    });
  });

  it('--only takes names with spaces around them and a trailing comma; --race sets the copies replay-race sends', async () => {
    const good = await startGoodVerifier(key);
    try {
      const [only, race] = await Promise.all([
        runCli(['attack', '--target', good.url, '--key', keyFile, '--only', ' replay-exact , control-get,', '--json']),
        runCli(['attack', '--target', good.url, '--key', keyFile, '--only', 'replay-race', '--race', '3', '--json']),
      ]);
      expect(parseReport(only.stdout).results.map((r) => r.name)).toEqual(['control-get', 'replay-exact']);
      expect(only.code).toBe(0);
      expect(gotOf(parseReport(race.stdout))['replay-race']).toBe('1 of 3 accepted; 2 × 401 replay');
      expect(race.code).toBe(0);
    } finally {
      await good.close();
    }
  });

  it('--local-address: the harness connects from it, so the target sees (and the echo reports) that address', async () => {
    const good = await startGoodVerifier(key);
    try {
      const run = await runCli(['attack', '--target', good.url, '--key', keyFile, '--only', 'control-get', '--local-address', '127.0.0.8', '--json']);
      const report = parseReport(run.stdout);
      expect(report.ip).toBe('127.0.0.8');
      expect(gotOf(report)['control-get']).toBe('200 accepted (match)');
      expect(run.code).toBe(0);
    } finally {
      await good.close();
    }
  });

  it('--proxy-address is checked like the others: not an address is a usage error', async () => {
    const down = `http://127.0.0.1:${await freePort()}/`;
    const run = await runCli(['attack', '--target', down, '--key', keyFile, '--proxy-address', 'lb.internal']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^ipstamp attack: proxyAddress must be a valid, specified IPv4 or IPv6 address\n$/);
  });

  it('a key file that is not JSON: exit 2, and the one line says so', async () => {
    const notJson = join(dir, 'not-json.jwk');
    await writeFile(notJson, '-----BEGIN PRIVATE KEY-----\n');
    const good = await startGoodVerifier(key);
    try {
      const run = await runCli(['attack', '--target', good.url, '--key', notJson]);
      expect(run).toEqual({
        code: 2,
        stdout: '',
        stderr: expect.stringMatching(/^ipstamp attack: the key is not a usable private JWK .*\(the key file is not JSON\)\n$/),
      });
    } finally {
      await good.close();
    }
  });

  const openssl = requireBinary('openssl');
  it.skipIf(openssl === undefined)('--ca: an https target is reached with its CA, not without it; an unreadable --ca is a usage error', async () => {
    const certificate = makeTestCertificate(openssl!, dir);
    const good = await startGoodVerifier(key, { key: await readFile(certificate.keyFile, 'utf8'), cert: certificate.certPem });
    try {
      const attack = (...extra: string[]) => runCli(['attack', '--target', good.url, '--key', keyFile, '--only', 'control-get', ...extra]);
      const [trusted, untrusted, missing] = await Promise.all([attack('--ca', certificate.certFile), attack(), attack('--ca', join(dir, 'no-ca.pem'))]);
      expect(good.url).toMatch(/^https:/);
      expect(trusted.stdout).toMatch(/^SAFE/m);
      expect(trusted.code).toBe(0);
      expect(untrusted.code).toBe(2);
      expect(untrusted.stderr).toMatch(/^ipstamp attack: the target cannot be reached/);
      expect(missing).toEqual({ code: 2, stdout: '', stderr: 'ipstamp attack: --ca: cannot read the certificate file\n' });
    } finally {
      await good.close();
    }
  });
});

/**
 * A Fastify app with the ipstamp plugin whose stamped route exists for one method and one path
 * only (PUT /inventory): an attack run aimed at another method or path cannot conclude. It also
 * issues tickets, and trusts them, so the ticket flags (--skew, --ticket-wait) show in a report.
 */
describe('ipstamp attack --method/--path against a one-route Fastify app', () => {
  let app: FastifyInstance;
  let origin: string;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
    const issuerPublic = { ...(await exportJWK(pair.publicKey)), kid: 'edge-1', alg: 'ES256' };
    app = Fastify();
    await app.register(ipstamp, {
      keys: { keys: [key.publicJwk] },
      issuer: { key: issuerKey, origin: 'http://edge.example' },
      issuers: { 'http://edge.example': { keys: [issuerPublic] } },
    });
    app.put('/inventory', async (request: FastifyRequest) => ({ ip: request.ipStamp?.ip, agreement: request.ipStamp?.agreement }));
    // answers a verified request 2 s late (or when the client gives up): what --timeout is for
    app.get('/slow', async (request: FastifyRequest) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        request.raw.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { ip: request.ipStamp?.ip, agreement: request.ipStamp?.agreement };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app?.close());

  const ONLY = ['--only', 'control-get,binding-other-method,binding-other-path,replay-exact', '--json'];

  it('--method put --path /inventory: every control and attack is a PUT to /inventory, SAFE; without them INCONCLUSIVE', async () => {
    const [named, noMethod, noPath] = await Promise.all([
      runCli(['attack', '--target', `${origin}/elsewhere`, '--method', 'put', '--path', '/inventory', '--key', keyFile, ...ONLY]),
      runCli(['attack', '--target', `${origin}/inventory`, '--key', keyFile, ...ONLY]),
      runCli(['attack', '--target', `${origin}/elsewhere`, '--method', 'PUT', '--key', keyFile, ...ONLY]),
    ]);
    const report = parseReport(named.stdout);
    expect(report).toMatchObject({ verdict: 'SAFE', exitCode: 0, method: 'PUT', target: `${origin}/inventory` });
    expect(gotOf(report)).toEqual({
      'control-get': '200 accepted (match)',
      'binding-other-method': '401 binding-mismatch',
      'binding-other-path': '401 binding-mismatch',
      'replay-exact': '401 replay',
    });
    expect(named.code).toBe(0);
    for (const [run, refused] of [
      [noMethod, '404'],
      [noPath, '404'],
    ] as const) {
      expect(parseReport(run.stdout).verdict).toBe('INCONCLUSIVE');
      expect(gotOf(parseReport(run.stdout))['control-get']).toMatch(new RegExp(`^${refused}`));
      expect(run.code).toBe(2);
    }
  });

  it('--timeout reaches every request: a route slower than it is no answer, so the run cannot conclude', async () => {
    const run = await runCli(['attack', '--target', `${origin}/slow`, '--key', keyFile, '--only', 'control-get', '--timeout', '50', '--json']);
    const report = parseReport(run.stdout);
    expect(gotOf(report)['control-get']).not.toMatch(/^200/);
    expect(report.verdict).toBe('INCONCLUSIVE');
    expect(run.code).toBe(2);
  });

  it('--skew and --ticket-wait (seconds) reach the expired-ticket attack, which says it will not wait that long', async () => {
    const run = await runCli([
      'attack',
      '--target',
      origin,
      '--method',
      'PUT',
      '--path',
      '/inventory',
      '--issuer',
      origin,
      '--only',
      'ticket-expired',
      '--skew',
      '7',
      '--ticket-wait',
      '2',
      '--json',
    ]);
    const result = parseReport(run.stdout).results.find((r) => r.name === 'ticket-expired');
    expect(result?.verdict).toBe('skip');
    expect(JSON.stringify(result)).toMatch(/plus a skew of 7 s\), longer than this run may wait \(2 s\)/);
  });
});

/** `ipstamp serve` as a process behind a PROXY-protocol load balancer at 127.0.0.9 that never connects. */
function startServeForAttack(extra: string[]): Promise<RunningServe> {
  return startServe([
    '--port',
    '0',
    '--keys',
    join(dir, 'keys.jwks.json'),
    '--trusted-proxies',
    '127.0.0.9',
    '--proxy-protocol',
    '--log-level',
    'warn',
    ...extra,
  ]);
}

describe('ipstamp attack against ipstamp serve (two processes)', () => {
  it('serve --proxy-protocol with default policy: every attack rejected, exit 0', async () => {
    const serve = await startServeForAttack([]);
    try {
      const run = await runCli(['attack', '--target', `${serve.url}/orders`, '--key', keyFile]);
      expect(run.stdout).toMatch(/^SAFE/m);
      expect(run.code).toBe(0);
    } finally {
      await serve.stop();
    }
  });

  it('serve --on-mismatch flag: the ip attacks get through, and the report says why', async () => {
    const serve = await startServeForAttack(['--on-mismatch', 'flag']);
    try {
      const run = await runCli(['attack', '--target', `${serve.url}/orders`, '--key', keyFile, '--json']);
      expect(run.code).toBe(1);
      const report = JSON.parse(run.stdout) as { results: { name: string; verdict: string }[]; notes: string[] };
      expect(report.results.filter((r) => r.verdict === 'fail').map((r) => r.name)).toEqual([
        'ip-spoofed',
        'ip-spoofed-xff',
        'ip-spoofed-forwarded',
        'ip-spoofed-x-real-ip',
      ]);
      expect(report.notes.join(' ')).toMatch(/onMismatch: 'flag'/);
    } finally {
      await serve.stop();
    }
  });
});

describe('npm start (ipstamp demo)', () => {
  it('exits 0 by itself, showing both clients accepted with match and forgeries rejected with reasons', async () => {
    const run = await runCli(['demo'], { timeoutMs: 20_000 });
    // it finished by itself: runCli kills and rejects at its 20 s safety limit
    expect(run.code).toBe(0);
    for (const client of ['127.0.0.5', '127.0.0.6']) {
      expect(run.stdout).toMatch(new RegExp(`^\\s+${client.replace(/\./g, '\\.')}\\s+GET /orders\\s+200\\s+${client.replace(/\./g, '\\.')}\\s+match\\s`, 'm'));
    }
    for (const reason of ['replay', 'ip-mismatch', 'bad-signature', 'expired']) {
      expect(run.stdout).toMatch(new RegExp(`\\s(401|403)\\s+${reason}\\s+rejected, as it must be`));
    }
    expect(run.stdout).toMatch(/^SAFE: every attack was rejected/m);
    expect(run.stderr).toBe('');
  });
});
