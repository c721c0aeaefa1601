import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRIES, readPublicSurface, type Entry, type EntrySurface } from './public-surface.js';

/**
 * The public surface is a decision: each entry's names equal public-surface.json, so any
 * change shows in review (with a CHANGELOG line). After a deliberate change, rewrite the file:
 *   UPDATE_SURFACE=1 npx vitest run test/package/exports.test.ts
 * Reads the BUILT package (`npm test` builds first; else `npx tsc -p tsconfig.json`).
 */
const root = resolve(import.meta.dirname, '../..');
const dist = join(root, 'dist');
const snapshotFile = join(import.meta.dirname, 'public-surface.json');

/**
 * Types a user meets through `Verifier.options` (the compiled options), which another branch of
 * issue 13 replaces with a read-only view. The lead empties this list when it lands; a listed
 * name that is no longer reachable fails the test, so the list cannot go stale.
 */
const PENDING_UNEXPORTED: readonly string[] = [];

/** Each entry's run-time export names, imported by package name in a fresh Node process. */
function runtimeExports(): Record<Entry, string[]> {
  const script = `
    const names = {};
    for (const entry of ${JSON.stringify(Object.keys(ENTRIES))}) names[entry] = Object.keys(await import(entry)).sort();
    process.stdout.write(JSON.stringify(names));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 }));
}

const { surface, unexportedTypes } = existsSync(join(dist, 'server/index.d.ts')) ? readPublicSurface(dist) : { surface: undefined, unexportedTypes: [] };

describe('the public surface', () => {
  it('dist/ is built', () => {
    expect(surface, 'dist/ is missing: run npm run build').toBeDefined();
  });

  it('each entry exports exactly the names in public-surface.json (values at run time, types in the declarations)', () => {
    const runtime = runtimeExports();
    const actual = Object.fromEntries(
      (Object.keys(ENTRIES) as Entry[]).map((entry) => [entry, { values: runtime[entry], types: surface![entry].types }]),
    ) as Record<Entry, EntrySurface>;
    if (process.env.UPDATE_SURFACE === '1') writeFileSync(snapshotFile, `${JSON.stringify(actual, null, 2)}\n`);
    // the declarations promise the same values the JavaScript has
    for (const entry of Object.keys(ENTRIES) as Entry[]) {
      expect(
        surface![entry].values.filter((n) => n !== 'default'),
        `${entry}: declared values`,
      ).toEqual(runtime[entry].filter((n) => n !== 'default'));
    }
    const expected = JSON.parse(readFileSync(snapshotFile, 'utf8'));
    expect(actual, 'the public surface changed: if deliberate, UPDATE_SURFACE=1 (see above) and a CHANGELOG line').toEqual(expected);
  });

  it('ipstamp/client/node has every name of ipstamp/client (values and types)', () => {
    const expected = JSON.parse(readFileSync(snapshotFile, 'utf8')) as Record<Entry, EntrySurface>;
    const node = expected['ipstamp/client/node'];
    const universal = expected['ipstamp/client'];
    expect(universal.values.filter((n) => !node.values.includes(n))).toEqual([]);
    expect(universal.types.filter((n) => !node.types.includes(n))).toEqual([]);
  });

  it('no entry uses export * (a name hidden behind another, a surface nobody chose)', () => {
    const offenders = Object.values(ENTRIES)
      .map((file) => file.replace('.d.ts', '.ts'))
      .filter((file) => /^\s*export\s*\*/m.test(readFileSync(join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('every named type a user can reach from an export is exported by some entry', () => {
    const missing = unexportedTypes.filter((t) => !PENDING_UNEXPORTED.includes(t.name));
    expect(missing.map((t) => `${t.name} (${t.file}), reached as ${t.path}`)).toEqual([]);
    const stale = PENDING_UNEXPORTED.filter((name) => !unexportedTypes.some((t) => t.name === name));
    expect(stale, 'exported or unreachable now: remove from PENDING_UNEXPORTED').toEqual([]);
  });

  it('package.json maps every entry: types first, then default; browser: null on the Node-only ones', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    // the edge entries too: wrangler resolves with the `browser` condition, so `browser: null` would hide them from Workers
    const universal = new Set(['ipstamp', 'ipstamp/client', 'ipstamp/web', 'ipstamp/cloudflare', 'ipstamp/hono/web']);
    for (const [entry, file] of Object.entries(ENTRIES)) {
      const key = entry === 'ipstamp' ? '.' : `.${entry.slice('ipstamp'.length)}`;
      const js = `./dist/${file.replace(/\.d\.ts$/, '.js')}`;
      const expected = universal.has(entry) ? { types: `./dist/${file}`, default: js } : { types: `./dist/${file}`, browser: null, default: js };
      expect(pkg.exports[key], key).toEqual(expected);
      expect(Object.keys(pkg.exports[key])[0], `${key}: types first`).toBe('types');
    }
  });
});
