import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRuntime } from '../support/runtimes.js';
import type { Entry, EntrySurface } from './public-surface.js';

/**
 * Type tests against the BUILT package, resolved through package.json's exports map the way a
 * user's compiler resolves `ipstamp/…`. vitest alone does not type-check, so this runs tsc.
 */
const root = resolve(import.meta.dirname, '../..');
// inside the package folder, so `ipstamp/…` resolves to this package (self-reference)
const scratch = mkdtempSync(join(root, '.types-consumer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The three ways a user's compiler resolves `ipstamp/…` through the exports map. */
const RESOLUTIONS = {
  node16: { module: 'Node16', moduleResolution: 'Node16' },
  nodenext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  bundler: { module: 'Preserve', moduleResolution: 'Bundler' },
} as const;
type Resolution = keyof typeof RESOLUTIONS;

/**
 * The compilers a user may run: the repo's own TypeScript 5.9, and TypeScript 7 (what
 * `npm i -D typescript` installs today; pinned in .runtimes/, see test/support/runtimes.ts),
 * whose inference differs — it refused the Hono handler form that 5.9 accepted. TypeScript 7's
 * `tsc` is run as its own executable. Without it those cases skip loudly (fail under CI=true).
 */
const requireHere = createRequire(import.meta.url);
const tsc7 = requireRuntime('tsc7');
const COMPILERS = {
  'TypeScript 5': (config: string) =>
    execFileSync(process.execPath, [requireHere.resolve('typescript/bin/tsc'), '-p', config], { cwd: root, encoding: 'utf8' }),
  'TypeScript 7': (config: string) => execFileSync(tsc7!, ['-p', config], { cwd: root, encoding: 'utf8' }),
} as const;
const compilers = (Object.keys(COMPILERS) as (keyof typeof COMPILERS)[]).filter((name) => name !== 'TypeScript 7' || tsc7 !== undefined);
type Compiler = keyof typeof COMPILERS;

function compile(files: string[], resolution: Resolution = 'nodenext', compiler: Compiler = 'TypeScript 5'): string {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      ...RESOLUTIONS[resolution],
      lib: ['ES2023', 'DOM'],
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
    },
    files,
  };
  // one file per run: the compilers run in parallel tests
  const config = join(scratch, `tsconfig.${resolution}.${compiler.replace(' ', '')}.json`);
  writeFileSync(config, JSON.stringify(tsconfig));
  try {
    COMPILERS[compiler](config);
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout || error);
  }
}

describe('the package as a TypeScript user sees it', () => {
  it('dist/ is built (npm test builds first; a direct vitest run needs `npx tsc -p tsconfig.json`)', () => {
    expect(existsSync(join(root, 'dist/server/index.d.ts'))).toBe(true);
  });

  const MATRIX = compilers.flatMap((compiler) => (Object.keys(RESOLUTIONS) as Resolution[]).map((resolution) => [compiler, resolution] as const));

  it.each(MATRIX)(
    '%s, moduleResolution %s: every name of public-surface.json imports by its entry, StampedFetchOptions refuses what no mode reads, the Fastify augmentation reaches the app, the Hono forms type-check',
    (compiler, resolution) => {
      // One consumer names every export of every entry (the export test keeps that list equal
      // to the package, and every type reachable from it exported); tsc fails on a name an
      // entry does not give. types/stamped-fetch.ts holds the @ts-expect-error cases;
      // types/hono-handler.ts the Hono handler and middleware forms.
      const surface = JSON.parse(readFileSync(join(import.meta.dirname, 'public-surface.json'), 'utf8')) as Record<Entry, EntrySurface>;
      const lines = Object.entries(surface).flatMap(([entry, { values, types }], i) => [
        `import type { ${types.map((name) => `${name} as entry${i}_${name}`).join(', ')} } from '${entry}';`,
        `export type { ${types.map((name) => `entry${i}_${name}`).join(', ')} };`,
        `import * as entry${i} from '${entry}';`,
        `export const entry${i}Values = [${values.map((name) => `entry${i}[${JSON.stringify(name)}]`).join(', ')}];`,
      ]);
      writeFileSync(join(scratch, 'every-name.ts'), `${lines.join('\n')}\n`);
      const fastifyApp = resolve(import.meta.dirname, '../plugin/types/consumer.ts');
      const consumers = ['types/stamped-fetch.ts', 'types/hono-handler.ts'].map((file) => join(import.meta.dirname, file));
      const output = compile(['every-name.ts', ...consumers, fastifyApp], resolution, compiler);
      expect(output).toBe('');
    },
    120_000,
  );

  it.each(compilers)(
    '%s: a CommonJS TypeScript file (.cts) requires every entry under nodenext, which types require(esm)',
    (compiler) => {
      const surface = JSON.parse(readFileSync(join(import.meta.dirname, 'public-surface.json'), 'utf8')) as Record<Entry, EntrySurface>;
      const entries = Object.keys(surface);
      const lines = entries.map((entry, i) => `import entry${i} = require('${entry}');`);
      lines.push(`import server = require('ipstamp/server');`);
      lines.push(`const verifier: server.Verifier = server.createVerifier({ keys: { keys: [] } });`);
      lines.push(`export = { verifier, names: [${entries.map((_, i) => `Object.keys(entry${i})`).join(', ')}] };`);
      writeFileSync(join(scratch, 'every-entry.cts'), `${lines.join('\n')}\n`);
      expect(compile(['every-entry.cts'], 'nodenext', compiler)).toBe('');
    },
    120_000,
  );
});
