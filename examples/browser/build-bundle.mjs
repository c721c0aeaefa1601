// Builds dist/browser/ipstamp.js: `ipstamp/client` as one minified ES module for a <script type="module">,
// jose and zod included. Run by `npm run build`; importable by tests that want a fresh bundle.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BUNDLE_ENTRY = resolve(root, 'client/index.ts');
export const BUNDLE_OUTFILE = resolve(root, 'dist/browser/ipstamp.js');

/** A Node built-in reached from the browser entry: the build fails instead of shipping a broken bundle. */
const refuseNodeBuiltins = {
  name: 'refuse-node-builtins',
  setup(builder) {
    builder.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `${args.path} imported by ${relative(root, args.importer)}: client code must run in browsers` }],
    }));
  },
};

/**
 * Bundles `entry` for browsers. Returns the code, its sizes and esbuild's metafile (what each
 * input contributes), and writes it to `outfile` unless `outfile` is false.
 * @param {{ entry?: string, outfile?: string | false, minify?: boolean }} [options]
 * @returns {Promise<{ code: string, bytes: number, gzipBytes: number, metafile: import('esbuild').Metafile }>}
 */
export async function buildBrowserBundle({ entry = BUNDLE_ENTRY, outfile = BUNDLE_OUTFILE, minify = true } = {}) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify,
    legalComments: 'eof',
    metafile: true,
    write: false,
    outfile: outfile || resolve(root, 'dist/browser/bundle.js'),
    logLevel: 'silent',
    plugins: [refuseNodeBuiltins],
  });
  const file = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const code = file.text;
  if (outfile) {
    mkdirSync(dirname(outfile), { recursive: true });
    writeFileSync(outfile, code);
  }
  const bytes = Buffer.byteLength(code);
  return { code, bytes, gzipBytes: gzipSync(code, { level: 9 }).length, metafile: result.metafile };
}

/**
 * Bytes each package (or our own top folder) contributes to the output, largest first.
 * @param {import('esbuild').Metafile} metafile
 * @returns {[string, number][]}
 */
export function contributions(metafile) {
  const totals = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const inPackage = input.split('node_modules/')[1];
      const owner = inPackage ? inPackage.split('/')[0] : input.split('/')[0];
      totals.set(owner, (totals.get(owner) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { bytes, gzipBytes, metafile } = await buildBrowserBundle();
  const parts = contributions(metafile)
    .map(([owner, n]) => `${owner} ${(n / 1024).toFixed(1)} KB`)
    .join(', ');
  console.log(`${relative(root, BUNDLE_OUTFILE)}: ${(bytes / 1024).toFixed(1)} KB, ${(gzipBytes / 1024).toFixed(1)} KB gzipped (${parts})`);
}
