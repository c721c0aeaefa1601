import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  }, 180_000);
});
