import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * ipstamp ships ESM only; CommonJS users `require()` it through Node's require(esm) (unflagged in
 * 20.19, 22.12 and 24 — the versions `engines` names). One module graph serves both, so a class
 * required by one file and imported by another is the same class. This installs the packed
 * tarball in a CommonJS project and requires every entry of the exports map, so an entry added
 * later is covered without editing this file — unless it (or anything it loads) uses top-level
 * await, which require(esm) refuses.
 */
const root = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'ipstamp-cjs-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
// entries with conditions are modules; plain strings are files (package.json, the browser bundle)
const entries = Object.entries(manifest.exports)
  .filter(([, target]) => typeof target === 'object')
  .map(([subpath]) => (subpath === '.' ? 'ipstamp' : `ipstamp/${subpath.slice(2)}`));
const surface = JSON.parse(readFileSync(join(import.meta.dirname, 'public-surface.json'), 'utf8')) as Record<string, { values: string[] }>;

const consumer = `'use strict';
const assert = require('node:assert/strict');
const entries = ${JSON.stringify(entries)};
const surface = ${JSON.stringify(surface)};
const secret = { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'k', alg: 'HS256' };

// one call of each entry, the way a CommonJS app would use it
const uses = {
  ipstamp: async (m) => assert.equal(m.REASON_STATUS[m.REASONS[0]] > 0 && m.isReason('replay'), true),
  'ipstamp/client': async (m) => assert.match(await m.createStamper({ key: secret, ip: '127.0.0.1' }).stamp({ method: 'GET', url: 'http://localhost/x' }), /^[\\w-]+\\.[\\w-]+\\.[\\w-]+$/),
  'ipstamp/client/node': async (m) => assert.equal(m.staticAddress('127.0.0.1').current(), '127.0.0.1'),
  'ipstamp/server': async (m) => {
    const token = await require('ipstamp/client').createStamper({ key: secret, ip: '127.0.0.1' }).stamp({ method: 'GET', url: 'http://localhost/x' });
    const verifier = m.createVerifier({ keys: { keys: [secret] } });
    const result = await verifier.verify({ method: 'GET', url: '/x', headers: { host: 'localhost', 'client-ip-attestation': token }, hints: { l3: '127.0.0.1' } });
    assert.equal(result.verdict.agreement, 'match');
  },
  'ipstamp/fastify': async (m) => {
    assert.equal(m.default, m.ipstamp);
    const app = require('fastify')();
    await app.register(m.ipstamp, { keys: { keys: [secret] }, echo: false });
    app.get('/x', async (request) => request.ipStamp);
    const response = await app.inject({ method: 'GET', url: '/x' });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().reason, 'missing');
    await app.close();
  },
  'ipstamp/redis': async (m) => assert.throws(() => new m.RedisReplayStore('redis://127.0.0.1:1', { timeoutMs: 0 }), /timeoutMs/),
  'ipstamp/cloudflare': async (m) => assert.throws(() => new m.DurableObjectReplayStore({}), /namespace/),
  'ipstamp/attack': async (m) => assert.equal(m.encodeProxyV1({ address: '192.0.2.1', port: 1 }, { address: '127.0.0.1', port: 2 }).toString(), 'PROXY TCP4 192.0.2.1 127.0.0.1 1 2\\r\\n'),
  // the adapters the issue names: each exports ipstamp(options), a middleware
  'ipstamp/node': async (m) => assert.equal(typeof m.ipstamp({ keys: { keys: [secret] } }), 'function'),
  'ipstamp/hono': async (m) => assert.equal(typeof m.ipstamp({ keys: { keys: [secret] } }), 'function'),
  // the optional peer @opentelemetry/api is installed beside the tarball here (pack.test.ts runs without it)
  'ipstamp/telemetry': async (m) => {
    const verifier = require('ipstamp/server').createVerifier({ keys: { keys: [secret] }, telemetry: m.openTelemetry() });
    assert.equal(verifier.verify.name, 'instrumentedVerify');
  },

  'ipstamp/hono/web': async (m) => assert.equal(typeof m.ipstamp({ keys: { keys: [secret] }, connection: m.cloudflareConnection }), 'function'),
  'ipstamp/web': async (m) => {
    const result = await m.createWebVerifier({ keys: { keys: [secret] } }).verify(new Request('http://localhost/x'), { l3: '127.0.0.1' });
    assert.equal(result.reason, 'missing');
  },
};

(async () => {
  const report = {};
  for (const entry of entries) {
    const m = require(entry);
    // the names a CommonJS user gets are the entry's public values (Node adds __esModule beside a default export)
    assert.deepEqual(Object.keys(m).filter((name) => name !== '__esModule').sort(), [...surface[entry].values].sort(), entry);
    assert.ok(uses[entry], 'no CommonJS use written for ' + entry);
    await uses[entry](m);
    report[entry] = 'ok';
  }
  // one module instance: require and import give the same class, and the entries share it
  const imported = await import('ipstamp');
  assert.equal(require('ipstamp').IpStampError, imported.IpStampError);
  assert.equal(require('ipstamp/server').IpStampError, imported.IpStampError);
  report.sameInstance = true;
  console.log(JSON.stringify(report));
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

describe('the packed package from CommonJS', () => {
  it('every exports entry is require()d, names its public values and works, as one module instance with import', () => {
    expect(entries).toEqual(expect.arrayContaining(['ipstamp', 'ipstamp/client', 'ipstamp/server', 'ipstamp/fastify']));
    // dist/ is fresh: `npm test` builds first (pretest)
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    // no "type": CommonJS is the default, and the consumer is .cjs besides
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-cjs', private: true }));
    const otelApi = `@opentelemetry/api@${(JSON.parse(readFileSync(join(root, 'node_modules/@opentelemetry/api/package.json'), 'utf8')) as { version: string }).version}`;
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, tarball!), otelApi], {
      cwd: scratch,
      stdio: 'pipe',
      timeout: 120_000,
    });
    writeFileSync(join(scratch, 'consumer.cjs'), consumer);
    // the node on PATH is the one under test (CI runs this suite under 20, 22 and 24)
    const out = execFileSync('node', ['consumer.cjs'], { cwd: scratch, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ ...Object.fromEntries(entries.map((entry) => [entry, 'ok'])), sameInstance: true });
  }, 180_000);
});
