import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The README's runnable examples, run as a user would paste them (against the built package,
 * imported by its own name). Marked in the README with `<!-- readme-example: NAME -->`.
 */
const root = resolve(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/<!-- readme-example: ([\w-]+) -->\s*```js\n([\s\S]*?)```/g)].map((m) => ({
  name: m[1]!,
  code: m[2]!,
}));
// inside the package folder, so `import 'ipstamp/…'` resolves through the exports map
const scratch = mkdtempSync(join(root, '.readme-example-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const expectations: Record<string, RegExp[]> = {
  core: [/agreement: 'match'/, /^replay$/m],
  plugin: [/^200 .*ip: '127\.0\.0\.1'.*agreement: 'match'.*item: 42/m, /^401 missing$/m],
  'browser-keys': [/^true$/m, /^match$/m, /^unknown-key$/m],
};

describe('README examples run as written', () => {
  it('has the examples this test knows', () => {
    expect(examples.map((e) => e.name)).toEqual(expect.arrayContaining(Object.keys(expectations)));
  });
  for (const { name, code } of examples) {
    it(name, () => {
      const file = join(scratch, `${name}.mjs`);
      writeFileSync(file, code);
      const out = execFileSync('node', [file], { cwd: root, encoding: 'utf8', timeout: 20_000 });
      for (const pattern of expectations[name] ?? []) expect(out).toMatch(pattern);
    });
  }
});
