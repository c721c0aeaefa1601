import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** What a user gets from the registry: pack the package, install the tarball elsewhere, import it. */
describe('the packed package', () => {
  const root = resolve(import.meta.dirname, '../..');
  const scratch = mkdtempSync(join(tmpdir(), 'ipstamp-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('installs from its tarball and exposes ipstamp, ipstamp/client and ipstamp/server', () => {
    // dist/ is fresh: `npm test` builds first (pretest)
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, tarball!)], {
      cwd: scratch,
      stdio: 'pipe',
      timeout: 120_000,
    });
    const script = `
      import { createStamper } from 'ipstamp/client';
      import { createVerifier } from 'ipstamp/server';
      import { REASONS, IpStampError } from 'ipstamp';
      const secret = { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'k', alg: 'HS256' };
      const stamper = createStamper({ key: secret, ip: '127.0.0.1' });
      const verifier = createVerifier({ keys: { keys: [secret] } });
      const token = await stamper.stamp({ method: 'GET', url: 'http://localhost/x' });
      const result = await verifier.verify({ method: 'GET', url: '/x', headers: { host: 'localhost', 'client-ip-attestation': token }, hints: { l3: '127.0.0.1' } });
      console.log(JSON.stringify({ ok: result.ok, agreement: result.verdict?.agreement, reasons: REASONS.length, err: typeof IpStampError }));
    `;
    writeFileSync(join(scratch, 'check.mjs'), script);
    const out = JSON.parse(execFileSync('node', ['check.mjs'], { cwd: scratch, encoding: 'utf8' }));
    expect(out).toEqual({ ok: true, agreement: 'match', reasons: 15, err: 'function' });

    // @opentelemetry/api is an optional peer: not installed here, every entry but ipstamp/telemetry
    // loads without it, and that one (and serve --telemetry) says what is missing
    expect(existsSync(join(scratch, 'node_modules/@opentelemetry/api'))).toBe(false);
    const exportsMap = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports;
    const entries = Object.entries(exportsMap)
      .filter(([, target]) => typeof target === 'object')
      .map(([subpath]) => (subpath === '.' ? 'ipstamp' : `ipstamp/${subpath.slice(2)}`));
    writeFileSync(
      join(scratch, 'entries.mjs'),
      `const report = {};
      for (const entry of ${JSON.stringify(entries)}) {
        try { report[entry] = Object.keys(await import(entry)).length > 0 ? 'ok' : 'empty'; }
        catch (error) { report[entry] = error.code + ' ' + (/'(@[^']+)'/.exec(error.message)?.[1] ?? error.message); }
      }
      console.log(JSON.stringify(report));`,
    );
    const loaded = JSON.parse(execFileSync('node', ['entries.mjs'], { cwd: scratch, encoding: 'utf8' })) as Record<string, string>;
    expect(entries).toContain('ipstamp/telemetry');
    expect(loaded).toEqual(Object.fromEntries(entries.map((e) => [e, e === 'ipstamp/telemetry' ? 'ERR_MODULE_NOT_FOUND @opentelemetry/api' : 'ok'])));
    writeFileSync(join(scratch, 'keys.json'), JSON.stringify({ keys: [{ kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'k', alg: 'HS256' }] }));
    const serve = spawnSync(join(scratch, 'node_modules/.bin/ipstamp'), ['serve', '--keys', 'keys.json', '--port', '0', '--telemetry'], {
      cwd: scratch,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect([serve.status, serve.stderr.trim()]).toEqual([2, expect.stringMatching(/--telemetry needs @opentelemetry\/api: npm install @opentelemetry\/api/)]);
  }, 180_000);
});
