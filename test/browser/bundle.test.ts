import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle, contributions } from '../../examples/browser/build-bundle.mjs';

/**
 * Gzipped bytes the bundle may not exceed. Today zod's classic API dominates (see the README
 * section on the browser bundle); lower this when the client stops pulling zod in.
 */
const GZIP_BUDGET = 25 * 1024;

const scratch = mkdtempSync(join(tmpdir(), 'ipstamp-bundle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('dist/browser/ipstamp.js: ipstamp/client bundled for browsers', () => {
  it('bundles client/index.ts for platform browser with no node: import, and exports the browser API', async () => {
    const { code, gzipBytes, metafile } = await buildBrowserBundle({ outfile: false });
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.some((i) => i.startsWith('node:'))).toBe(false);
    expect(inputs.some((i) => /\.node\.ts$/.test(i))).toBe(false);
    expect(inputs).toContain('client/browser-key.ts');
    const exported = Object.values(metafile.outputs).flatMap((o) => o.exports);
    for (const name of ['generateStampKey', 'saveStampKey', 'loadSavedStampKey', 'deleteSavedStampKey', 'createStampedFetch', 'createStamper', 'echoAddress']) {
      expect(exported).toContain(name);
    }
    expect(code).not.toMatch(/\brequire\(/);
    expect(gzipBytes).toBeLessThan(GZIP_BUDGET);
    expect(contributions(metafile).map(([owner]) => owner)).toEqual(expect.arrayContaining(['client', 'shared', 'jose']));
  });

  it('fails the build when browser code reaches a Node built-in', async () => {
    const entry = join(scratch, 'entry.ts');
    writeFileSync(entry, "import { randomBytes } from 'node:crypto';\nexport const r = randomBytes(4);\n");
    await expect(buildBrowserBundle({ entry, outfile: false })).rejects.toThrow(/node:crypto imported by .*client code must run in browsers/);
  });
});
