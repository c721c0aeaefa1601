import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Issue 13 item 2: the core's folders import one way — jws at the bottom, then hints and
 * stores, verify, and issuer and registry on top — and no two of its files import each other,
 * directly or round a loop (type-only imports count: they tie the files just the same).
 * Read from the sources, so a new import that breaks the order fails here first.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Each core folder, the folders it may import, and the packages it may load. */
const LAYERS: Record<string, { folders: readonly string[]; packages: readonly string[] }> = {
  'server/jws': { folders: ['shared'], packages: ['node:crypto', 'node:buffer'] },
  'server/hints': { folders: ['shared'], packages: ['node:net', 'node:http', 'node:buffer'] },
  'server/stores': { folders: ['shared'], packages: ['node:crypto', 'ioredis'] },
  'server/verify': {
    folders: ['shared', 'server/jws', 'server/hints', 'server/stores'],
    packages: ['node:crypto', 'jose', 'jose/jwks/local', 'jose/jwks/remote'],
  },
  'server/issuer': { folders: ['shared', 'server/jws', 'server/hints', 'server/stores', 'server/verify'], packages: ['node:crypto'] },
  'server/registry': { folders: ['shared', 'server/jws', 'server/hints', 'server/verify'], packages: ['node:crypto'] },
};
/** The concrete stores the core may name: the memory store (createVerifier's default), never Redis. */
const STORES_THE_CORE_MAY_LOAD = ['server/stores/replay-store.ts', 'server/stores/memory.ts', 'server/stores/fingerprint-table.ts', 'server/stores/siphash.ts'];

interface SourceFile {
  readonly path: string;
  readonly folder: string;
  /** Relative imports resolved to repository paths (`.ts`), and bare specifiers. */
  readonly files: readonly string[];
  readonly packages: readonly string[];
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?\bfrom\s*'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s*'([^']+)'/g;

function sourceFile(path: string): SourceFile {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const files: string[] = [];
  const packages: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? match[3]!;
    if (spec.startsWith('.')) files.push(relative(ROOT, resolve(ROOT, dirname(path), spec)).replace(/\.js$/, '.ts'));
    else packages.push(spec);
  }
  return { path, folder: dirname(path), files, packages };
}

function sourcesUnder(folder: string): SourceFile[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => sourceFile(join(folder, name)));
}

const folderOf = (path: string): string => (path.startsWith('shared/') ? 'shared' : path.split('/').slice(0, 2).join('/'));

const core = Object.keys(LAYERS).flatMap(sourcesUnder);

describe('the core imports one way', () => {
  it('finds the sources (a moved folder must not make this pass vacuously)', () => {
    for (const folder of Object.keys(LAYERS)) expect(core.some((file) => file.folder === folder)).toBe(true);
    expect(core.flatMap((file) => file.files).length).toBeGreaterThan(50);
  });

  it.each(Object.entries(LAYERS))('%s imports only the folders and packages below it', (folder, allowed) => {
    const wrong: string[] = [];
    for (const file of core.filter((f) => f.folder === folder)) {
      for (const target of file.files) {
        const to = folderOf(target);
        if (to !== folder && !allowed.folders.includes(to)) wrong.push(`${file.path} → ${target}`);
        if (to === 'server/stores' && folder !== 'server/stores' && !STORES_THE_CORE_MAY_LOAD.includes(target)) wrong.push(`${file.path} → ${target}`);
      }
      for (const spec of file.packages) {
        // ioredis only in the Redis store, its own entry (ipstamp/redis)
        const ok = allowed.packages.includes(spec) && (spec !== 'ioredis' || file.path === 'server/stores/redis.ts');
        if (!ok) wrong.push(`${file.path} → ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('no import cycles in the core or shared/', () => {
  it('no file reaches itself by following imports', () => {
    const files = new Map([...core, ...sourcesUnder('shared')].map((file) => [file.path, file]));
    // depth-first with colours: reaching a file still on the path is a cycle
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (path: string, trail: string[]): void => {
      if (state.get(path) === 'done') return;
      if (state.get(path) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(path)), path].join(' → '));
        return;
      }
      state.set(path, 'open');
      for (const next of files.get(path)?.files ?? []) if (files.has(next)) visit(next, [...trail, path]);
      state.set(path, 'done');
    };
    for (const path of files.keys()) visit(path, []);
    expect(cycles).toEqual([]);
  });
});
