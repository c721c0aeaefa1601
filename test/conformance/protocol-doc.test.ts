import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../shared/reasons.js';
import { REASON_STATUS } from '../../shared/reasons.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const doc = readFileSync(join(root, 'docs/protocol.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

/** docs/protocol.md is the contract: versioned with the package, shipped in it, agreeing with the vectors. */
describe('docs/protocol.md', () => {
  it('names the package version it ships with and the protocol version the vectors test', () => {
    expect(doc).toContain(`the \`ipstamp\` package, version ${pkg.version}`);
    const protocol = /\| Protocol version \| \*\*([0-9.]+)\*\*/.exec(doc)?.[1];
    const dir = join(root, 'test/conformance/vectors');
    for (const name of readdirSync(dir)) {
      expect(JSON.parse(readFileSync(join(dir, name), 'utf8')).protocol, name).toBe(protocol);
    }
  });

  it('lists every reason code with the status the code answers', () => {
    for (const reason of REASONS) expect(doc, reason).toContain(`| \`${reason}\` | ${REASON_STATUS[reason]} |`);
  });

  it('is in the package tarball, and the README links it', () => {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as {
      files: { path: string }[];
    }[];
    expect(packed[0]!.files.map((f) => f.path)).toContain('docs/protocol.md');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('](docs/protocol.md)');
    expect(readme).not.toContain('../shared/PROTOCOL.md');
  });
});
