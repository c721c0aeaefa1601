import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/**
 * The augmentation (`request.ipStamp`, `config.ipstamp`, `fastify.ipstamp`) must reach an app
 * through `ipstamp/fastify` as built — types/consumer.ts is such an app. vitest alone does not
 * type-check, so this runs the compiler on it.
 */
describe('shipped Fastify type augmentation', () => {
  it('an app importing ipstamp/fastify sees request.ipStamp, route config and fastify.ipstamp with their types', () => {
    // dist/ is fresh under `npm test` (pretest builds); a direct vitest run needs `npx tsc -p tsconfig.json` first
    expect(existsSync(resolve(root, 'dist/server/index.d.ts')), 'dist/ is missing: run npm run build').toBe(true);
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', resolve(import.meta.dirname, 'types/tsconfig.json')], { cwd: root, encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe('');
  }, 60_000);
});
