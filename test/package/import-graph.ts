import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');

/** file → the files it imports (relative imports only, `import type` and `export … from` included). */
export type ImportGraph = Map<string, string[]>;

function sourceFiles(root: string, folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(folder, f).split('\\').join('/'))
    .sort();
}

/**
 * The source import graph of `folders` (paths relative to `root`): every import declaration,
 * re-export and dynamic import with a relative specifier, type-only ones included — a type
 * import is a dependency of the design even though the compiler erases it.
 */
export function sourceImportGraph(root: string, folders: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of folders.flatMap((folder) => sourceFiles(root, folder))) {
    const text = readFileSync(join(root, file), 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) =>
        relative(root, resolve(root, dirname(file), s))
          .split('\\')
          .join('/')
          .replace(/\.js$/, '.ts'),
      );
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/** The same graph with each file replaced by its part: `shared`, `client`, or `server/<folder>` (`server` for its entry files). */
export function partGraph(graph: ImportGraph): ImportGraph {
  const partOf = (file: string): string => {
    const segments = file.split('/');
    return segments[0] === 'server' && segments.length > 2 ? `server/${segments[1]}` : segments[0]!;
  };
  const parts: ImportGraph = new Map();
  for (const [file, targets] of graph) {
    const from = partOf(file);
    const edges = new Set(parts.get(from) ?? []);
    for (const target of targets) if (partOf(target) !== from) edges.add(partOf(target));
    parts.set(from, [...edges].sort());
  }
  return parts;
}

/**
 * One cycle per strongly connected component (Tarjan), each written `a → b → … → a` starting
 * from its smallest node, so the same cycle always prints the same way.
 */
export function findCycles(graph: ImportGraph): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => cycleThrough(graph, new Set(component), component[0]!)).sort();
}

/** A shortest path from `start` back to itself inside one component (breadth first). */
function cycleThrough(graph: ImportGraph, component: Set<string>, start: string): string {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start].join(' → ');
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return start;
}
