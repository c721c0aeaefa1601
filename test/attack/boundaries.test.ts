import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The harness is its own part: it uses the library only through its public entries, its
 * imports flow one way (type imports count: they tie files together for a reader too), and
 * the rest of the package reaches it only through `ipstamp/attack`.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const HARNESS = 'server/attack';
const PUBLIC_ENTRIES = new Set(['shared/index.ts', 'client/index.ts', 'client/index.node.ts']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative module specifiers of every import and re-export, `import type` included, as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/g)].map((m) =>
    normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'),
  );
}

const graph = new Map(['shared', 'client', 'server'].flatMap(sources).map((file) => [file, importsOf(file)]));
const inHarness = (file: string): boolean => file.startsWith(`${HARNESS}/`);

function cycles(edges: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('the attack harness as its own part', () => {
  it('finds the harness and its imports (the check itself sees something)', () => {
    const harness = [...graph.keys()].filter(inHarness);
    expect(harness).toContain(`${HARNESS}/index.ts`);
    expect(harness.length).toBeGreaterThan(10);
    expect(graph.get(`${HARNESS}/runner.ts`)).toContain(`${HARNESS}/catalog/index.ts`);
  });

  it('imports the library only through its public entries (ipstamp, ipstamp/client, ipstamp/client/node)', () => {
    const inside = [...graph]
      .filter(([file]) => inHarness(file))
      .flatMap(([file, deps]) => deps.filter((d) => !inHarness(d) && !PUBLIC_ENTRIES.has(d)).map((d) => `${file} → ${d}`));
    expect(inside).toEqual([]);
  });

  it('is reached from the rest of the package only through ipstamp/attack (server/attack/index.ts)', () => {
    const reaching = [...graph]
      .filter(([file]) => !inHarness(file))
      .flatMap(([file, deps]) => deps.filter((d) => inHarness(d) && d !== `${HARNESS}/index.ts`).map((d) => `${file} → ${d}`));
    expect(reaching).toEqual([]);
  });

  it('has no import cycle between its files, type imports included', () => {
    const harness = new Map([...graph].filter(([file]) => inHarness(file)).map(([file, deps]) => [file, deps.filter(inHarness)]));
    expect(cycles(harness)).toEqual([]);
  });

  it('imports one way between its folders: the catalog never imports the runner side', () => {
    const folders = new Map<string, string[]>();
    for (const [file, deps] of graph) {
      if (!inHarness(file)) continue;
      const from = relative(ROOT, join(ROOT, dirname(file)));
      const to = deps
        .filter(inHarness)
        .map((d) => dirname(d))
        .filter((d) => d !== from);
      folders.set(from, [...new Set([...(folders.get(from) ?? []), ...to])]);
    }
    expect(cycles(folders)).toEqual([]);
    expect(folders.get(`${HARNESS}/catalog`) ?? []).toEqual([]);
  });
});
