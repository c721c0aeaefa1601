import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The documentation a newcomer walks: the README, docs/*.md, bench/README.md and the conformance
 * README. Every relative link must reach a file of the repository, every `#anchor` a heading of
 * its page (GitHub's slugs), nothing may point outside the repository (`../shared` was the spec's
 * old home), and the README stays short enough to read.
 */
const root = resolve(import.meta.dirname, '..');
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'bench/README.md',
  'test/conformance/README.md',
];
const text = (page: string): string => readFileSync(join(root, page), 'utf8');

/** The page's lines outside fenced code blocks. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Markdown links `[text](target)` in prose, inline code removed first (`[v6]:port` is no link). */
function linksOf(markdown: string): string[] {
  return prose(markdown).flatMap((line) => [...line.replace(/`[^`]*`/g, '``').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!));
}

describe('docs: links and anchors', () => {
  it('finds the pages and their links', () => {
    expect(pages).toEqual(expect.arrayContaining(['docs/fastify.md', 'docs/client.md', 'docs/load-balancers.md', 'docs/protocol.md']));
    expect(linksOf(text('README.md')).length).toBeGreaterThan(10);
  });

  it('computes GitHub anchors', () => {
    const sample = '# `ipstamp demo` (`npm start`)\n## 5. Verification\n```sh\n# not a heading\n```\n## A: b, c\n## A: b, c\n';
    expect([...anchorsOf(sample)]).toEqual(['ipstamp-demo-npm-start', '5-verification', 'a-b-c', 'a-b-c-1']);
  });

  for (const page of pages) {
    it(`${page}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      for (const link of linksOf(text(page))) {
        if (/^[a-z][a-z+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? join(root, page) : resolve(dirname(join(root, page)), path);
        if (relative(root, target).startsWith('..')) {
          broken.push(`${link}: outside the repository`);
          continue;
        }
        if (!existsSync(target)) {
          broken.push(`${link}: no such file`);
          continue;
        }
        if (anchor !== undefined) {
          if (!statSync(target).isFile() || !target.endsWith('.md')) broken.push(`${link}: anchor on a file that is not markdown`);
          else if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${link}: no heading with that anchor`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  it('nothing links ../shared, which is not in the repository or the package', () => {
    for (const page of pages) expect(text(page), page).not.toMatch(/\.\.\/shared\b/);
  });

  it('the README stays a page a newcomer reads (≤ 300 lines) and links every docs page', () => {
    const readme = text('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    const linked = new Set(linksOf(readme).map((l) => l.split('#')[0]));
    for (const page of pages.filter((p) => p.startsWith('docs/') || p === 'bench/README.md')) expect(linked, page).toContain(page);
  });

  it('every name a code block imports from an ipstamp entry is exported by that entry (fragments too)', async () => {
    const exportsMap = JSON.parse(text('package.json')) as { exports: Record<string, string | { default: string }> };
    const missing: string[] = [];
    for (const page of pages) {
      for (const m of text(page).matchAll(/^import\s+(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s+'(ipstamp(?:\/[\w/]+)?)';?$/gm)) {
        const [, defaultName, named = '', specifier] = m as unknown as [string, string | undefined, string | undefined, string];
        const target = exportsMap.exports[specifier === 'ipstamp' ? '.' : `./${specifier.slice('ipstamp/'.length)}`];
        if (target === undefined) {
          missing.push(`${page}: no entry ${specifier}`);
          continue;
        }
        const entry = (await import(pathToFileURL(join(root, typeof target === 'string' ? target : target.default)).href)) as Record<string, unknown>;
        const names = named
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n !== '' && !n.startsWith('type '))
          .map((n) => n.split(/\s+as\s+/)[0]!);
        if (defaultName !== undefined) names.push('default');
        for (const name of names) if (!(name in entry)) missing.push(`${page}: ${specifier} has no export ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
