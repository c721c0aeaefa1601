import Fastify from 'fastify';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttacks, TICKET_ATTACK_CATALOG, type AttackReport } from '../../server/attack/index.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { runCli, scratchDir } from '../support/cli-process.js';
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
  report.results
    .filter((r) => r.verdict === verdict)
    .map((r) => r.name)
    .sort();

describe('ipstamp attack against a POST-only route', () => {
  it('without --method/--path the controls are refused: INCONCLUSIVE (exit 2), the refusal shown in JSON, Markdown and text', async () => {
    const reportFile = scratch.file('placeholder.md', '');
    const run = await runCli(['attack', '--target', `${origin}/orders`, '--key', keyFile, '--json', '--report', reportFile], { timeoutMs: 20_000 });
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as AttackReport;
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
    expect(text.stdout).toMatch(/^INCONCLUSIVE: [^\n]*\n {2}- control-get: a legitimate request was refused — 405/m);
    expect(text.stdout).not.toMatch(/UNSAFE/);
  });

  it('with --method POST --path /orders every attack and control is a POST with a digested body: SAFE (exit 0)', async () => {
    const run = await runCli(['attack', '--target', origin, '--method', 'POST', '--path', '/orders', '--key', keyFile, '--json'], { timeoutMs: 20_000 });
    const report = JSON.parse(run.stdout) as AttackReport;
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
    for (const args of [
      ['--method', 'PO ST'],
      ['--path', 'orders'],
      ['--path', '//evil.example/x'],
    ]) {
      const run = await runCli(['attack', '--target', origin, '--key', keyFile, ...args]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^ipstamp attack: (method|path)/);
    }
  });
});

describe('runAttacks with method and path: the ticket attacks too', () => {
  it('ticket-bound stamps are made for the POST route and its body: every ticket attack rejected, the controls accepted', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const issuerKey = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
    const issuer = Fastify();
    await issuer.register(ipstamp, { keys: { keys: [] }, issuer: { key: issuerKey, origin: 'http://edge.example' } });
    await issuer.listen({ host: '127.0.0.1', port: 0 });
    const issuerOrigin = `http://127.0.0.1:${(issuer.server.address() as AddressInfo).port}`;
    const jwks = (await (await fetch(`${issuerOrigin}/.well-known/ipstamp/issuer-jwks`)).json()) as { keys: JWK[] };
    const postOnly = await startVerifierServer({
      verify: createVerifierCore({ keys: { keys: [] }, issuers: { 'http://edge.example': jwks }, replayStore: new MapReplayStore(), requireBodyDigest: true })
        .verify,
      proxyPeers: ['127.0.0.9'],
      route: { method: 'POST', path: '/orders' },
    });
    try {
      const target = new URL(postOnly.url).origin;
      const run = (extra: { method?: string; path?: string }) =>
        runAttacks({
          target,
          issuer: issuerOrigin,
          ticketWaitMs: 0,
          localAddress: '127.0.0.35',
          only: ['control-ticket', 'ticket-no-tth', 'ticket-replay'],
          ...extra,
        });
      const wrong = await run({});
      expect(wrong).toMatchObject({ verdict: 'INCONCLUSIVE', exitCode: 2 });
      expect(wrong.results[0]).toMatchObject({ name: 'control-ticket', got: '404 (no reason)', legitimateRefused: true });

      const report = await run({ method: 'post', path: '/orders' });
      expect(report.results.map((r) => [r.name, r.got, r.verdict])).toEqual([
        ['control-ticket', '200 accepted (match)', 'pass'],
        ['ticket-no-tth', '401 binding-mismatch', 'pass'],
        ['ticket-replay', '401 replay', 'pass'],
      ]);
      expect(report).toMatchObject({ method: 'POST', verdict: 'SAFE', exitCode: 0, target: `${target}/orders` });
      expect(TICKET_ATTACK_CATALOG.every((a) => a.ticketRequests !== undefined)).toBe(true);
    } finally {
      await postOnly.close();
      await issuer.close();
    }
  });
});
