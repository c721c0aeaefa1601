import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttackReport } from '../../server/attack/index.js';
import { createVerifierCore } from '../../server/verify/verifier.js';
import { runCli, scratchDir } from '../cli/cli-process.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { startVerifierServer, type TestVerifierServer } from './verifier-server.js';

/**
 * A route that answers POST only (a framework's 404/405 for anything else) and signs its
 * bodies (requireBodyDigest): the harness must say it cannot conclude when its controls are
 * refused, and reach the route with --method/--path. The built CLI: run `npx tsc -p tsconfig.json` first.
 */
const scratch = scratchDir();
let key: TestKeyPair;
let keyFile: string;
let server: TestVerifierServer;
let origin: string;

beforeAll(async () => {
  key = await makeKey('ES256', 'route-client');
  keyFile = scratch.file('client.json', key.privateJwk);
  server = await startVerifierServer({
    verify: createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), requireBodyDigest: true }).verify,
    proxyPeers: ['127.0.0.9'],
    route: { method: 'POST', path: '/orders' },
  });
  origin = new URL(server.url).origin;
});
afterAll(async () => {
  await server?.close();
  scratch.cleanup();
});

const byVerdict = (report: AttackReport, verdict: string): string[] =>
  report.results.filter((r) => r.verdict === verdict).map((r) => r.name).sort();

describe('ipstamp attack against a POST-only route', () => {
  it('without --method/--path the controls are refused: INCONCLUSIVE (exit 2), the refusal shown in JSON, Markdown and text', async () => {
    const reportFile = scratch.file('placeholder.md', '');
    const run = await runCli(['attack', '--target', `${origin}/orders`, '--key', keyFile, '--json', '--report', reportFile], { timeoutMs: 20_000 });
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as AttackReport & { verdict: string; inconclusive: string[] };
    expect(report.verdict).toBe('INCONCLUSIVE');
    expect(report.exitCode).toBe(2);
    expect(report.inconclusive.join('\n')).toMatch(/control-get.*405/);
    // what failed is a legitimate request (a control, a replay's original), never an attack that got through
    const refused = ['control-get', 'control-harness-signer', 'replay-ecdsa-twin', 'replay-exact', 'replay-flipped-bits', 'replay-race'];
    expect(byVerdict(report, 'fail')).toEqual(refused);
    expect(report.results.filter((r) => r.verdict === 'fail' && r.legitimateRefused !== true)).toEqual([]);
    // the control that digests a POST body reached the route, and says so
    expect(report.results.find((r) => r.name === 'control-post-digest')).toMatchObject({ verdict: 'pass', got: '200 accepted (match)' });
    const markdown = await readFile(reportFile, 'utf8');
    expect(markdown).toMatch(/\*\*INCONCLUSIVE\*\*/);
    expect(markdown).toMatch(/control-get.*405/);
    expect(markdown).not.toMatch(/UNSAFE/);

    const text = await runCli(['attack', '--target', `${origin}/orders`, '--key', keyFile, '--only', 'control-get,alg-none-none'], { timeoutMs: 20_000 });
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(/^INCONCLUSIVE: [^\n]*\n  - control-get: 405/m);
    expect(text.stdout).not.toMatch(/UNSAFE/);
  });

  it('with --method POST --path /orders every attack and control is a POST with a digested body: SAFE (exit 0)', async () => {
    const run = await runCli(['attack', '--target', origin, '--method', 'POST', '--path', '/orders', '--key', keyFile, '--json'], { timeoutMs: 20_000 });
    const report = JSON.parse(run.stdout) as AttackReport & { verdict: string };
    expect(report.results.filter((r) => r.verdict !== 'pass' && r.verdict !== 'skip').map((r) => `${r.name}: ${r.got}`)).toEqual([]);
    expect(byVerdict(report, 'skip')).toEqual(['alg-swap-hmac', 'replay-ed25519-twin']);
    expect(report.target).toBe(`${origin}/orders`);
    const got = Object.fromEntries(report.results.map((r) => [r.name, r.got]));
    expect(got).toMatchObject({
      'control-get': '200 accepted (match)',
      'control-harness-signer': '200 accepted (match)',
      'binding-other-method': '401 binding-mismatch',
      'binding-altered-body': '401 binding-mismatch',
      'replay-exact': '401 replay',
      'ip-spoofed-xff': '403 ip-mismatch',
      'proxy-v1-spoofed': 'connection closed',
    });
    expect(report.verdict).toBe('SAFE');
    expect(run.code).toBe(0);
  });

  it('--method and --path are checked: a bad method or a path that is not absolute is a usage error', async () => {
    for (const args of [['--method', 'PO ST'], ['--path', 'orders'], ['--path', '//evil.example/x']]) {
      const run = await runCli(['attack', '--target', origin, '--key', keyFile, ...args]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^ipstamp attack: (method|path)/);
    }
  });
});
