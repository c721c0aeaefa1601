import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycles, partGraph, sourceImportGraph, type ImportGraph } from './import-graph.js';

/**
 * The library's import graph runs one way (ARCHITECTURE.md): no file imports a file that
 * imports it back, and no part (`shared`, `client`, `server/<folder>`) imports a part that
 * imports it back — type-only imports included. A failure prints each cycle.
 */
const root = resolve(import.meta.dirname, '../..');
const files = sourceImportGraph(root, ['shared', 'client', 'server']);

describe('the import graph of shared/, client/ and server/', () => {
  it('is read from the sources (a sanity check on the reader)', () => {
    expect(files.size).toBeGreaterThan(100);
    expect(files.get('server/index.ts')).toContain('server/verify/create-verifier.ts');
    // an `import type` is an edge too
    expect(files.get('server/verify/create-verifier.ts')).toContain('server/verify/options.ts');
  });

  it('has no cycle between files', () => {
    const cycles = findCycles(files);
    expect(cycles, 'import cycles between files').toEqual([]);
  });

  it('has no cycle between parts', () => {
    expect(findCycles(partGraph(files)), 'import cycles between parts (folders)').toEqual([]);
  });
});

describe('the cycle finder', () => {
  const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

  it('finds a two-file cycle, a longer one and a self-import, each once', () => {
    const found = findCycles(graph({ a: ['b'], b: ['a', 'c'], c: [], d: ['e'], e: ['f'], f: ['d', 'c'], g: ['g'] }));
    expect(found).toEqual(['a → b → a', 'd → e → f → d', 'g → g']);
  });

  it('finds none in a graph that only converges', () => {
    expect(findCycles(graph({ a: ['b', 'c'], b: ['c'], c: [] }))).toEqual([]);
  });

  it('folds files into parts: server/<folder>, shared, client', () => {
    const parts = partGraph(
      graph({
        'server/verify/a.ts': ['server/hints/b.ts', 'shared/c.ts', 'server/verify/d.ts'],
        'server/hints/b.ts': ['server/verify/d.ts'],
        'server/index.ts': ['server/verify/a.ts'],
      }),
    );
    expect(parts.get('server/verify')).toEqual(['server/hints', 'shared']);
    expect(findCycles(parts)).toEqual(['server/hints → server/verify → server/hints']);
  });
});
