import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const clientDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../client');
const isNodeOnly = (file: string) => file.endsWith('.node.ts');
const universal = readdirSync(clientDir).filter((f) => f.endsWith('.ts') && !isNodeOnly(f));

/** Source without comments, so a comment that mentions Buffer or node: does not count. */
function code(file: string): string {
  return readFileSync(join(clientDir, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1');
}

function relativeImports(file: string): string[] {
  return [...code(file).matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!.replace(/\.js$/, '.ts').replace(/^\.\//, ''));
}

describe('client/ outside *.node.ts runs in browsers', () => {
  it('has universal files to check (the glob is not empty)', () => {
    expect(universal).toContain('stamped-fetch.ts');
    expect(universal).toContain('index.ts');
  });

  for (const file of universal) {
    it(`${file}: no node: imports, no Buffer, no undici, no process`, () => {
      const text = code(file);
      expect(text).not.toMatch(/from\s+'node:|import\s*\(\s*'node:|require\s*\(/);
      expect(text).not.toMatch(/\bBuffer\b/);
      expect(text).not.toMatch(/'undici'/);
      expect(text).not.toMatch(/\bprocess\./);
      for (const target of relativeImports(file)) expect(isNodeOnly(target), `${file} imports ${target}`).toBe(false);
    });
  }

  it('the node entry is a *.node.ts file (excluded from the universal type check) and has every name of the universal entry', async () => {
    // explicit export lists (no export *): the node entry names each one again (types: test/package/exports.test.ts)
    const universal = Object.keys(await import('../../client/index.js'));
    const node = Object.keys(await import('../../client/index.node.js'));
    expect(universal.filter((name) => !node.includes(name))).toEqual([]);
  });

  it('bundles for the browser with nothing Node-only pulled in (esbuild, platform browser)', async () => {
    const result = await build({
      entryPoints: [join(clientDir, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const bundle = result.outputFiles[0]!.text;
    expect(bundle).toContain('createStampedFetch');
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:/);
  });
});
