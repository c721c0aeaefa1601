/**
 * The size of a Cloudflare Worker that verifies stamps with ipstamp/web, bundled as wrangler
 * would (esbuild, platform neutral, the `workerd`/`worker`/`browser` conditions, minified), raw
 * and gzipped, beyond Hono alone. Three Workers, bundled from dist/ (npm run build first):
 *   - `hono`: a Hono app with one route — the baseline;
 *   - `hono + ipstamp/web`: the same app, a middleware calling createWebVerifier's verify(c.req.raw, { l3: CF-Connecting-IP });
 *   - `ipstamp/web alone`: a bare `fetch` handler with the verifier, no framework.
 *
 *   npm run build && node bench/web-size.js [--json]
 *
 * The budget: 20 KB gzipped beyond Hono. test/package/web-graph.test.ts checks that
 * these bundles build and name no `node:` module (sizes are not asserted in tests).
 */
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const KEYS = `{ keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'k1', alg: 'HS256' }] }`;

export const WORKERS = {
  hono: `
import { Hono } from 'hono';
const app = new Hono();
app.get('/orders', (c) => c.json({ ok: true }));
export default app;
`,
  'hono + ipstamp/web': `
import { Hono } from 'hono';
import { createWebVerifier } from 'ipstamp/web';
const verifier = createWebVerifier({ keys: ${KEYS} });
const app = new Hono();
app.use(async (c, next) => {
  const result = await verifier.verify(c.req.raw, { l3: c.req.header('cf-connecting-ip') });
  if (!result.ok) return c.json({ type: 'about:blank', reason: result.reason }, result.status);
  c.set('ipStamp', result.verdict);
  return next();
});
app.get('/orders', (c) => c.json({ ok: true, ip: c.get('ipStamp')?.ip }));
export default app;
`,
  'ipstamp/web alone': `
import { createWebVerifier } from 'ipstamp/web';
const verifier = createWebVerifier({ keys: ${KEYS} });
export default {
  async fetch(request) {
    const result = await verifier.verify(request, { l3: request.headers.get('cf-connecting-ip') });
    return Response.json(result.ok ? { ip: result.verdict?.ip } : { reason: result.reason }, { status: result.ok ? 200 : result.status });
  },
};
`,
};

/** One Worker bundled as wrangler bundles it; throws on anything a Worker could not load. */
export async function bundleWorker(source) {
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js', sourcefile: 'worker.js' },
    bundle: true,
    write: false,
    platform: 'neutral',
    format: 'esm',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    alias: { 'ipstamp/web': `${root}dist/server/web/index.js` },
    minify: true,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

export async function measureWebSize() {
  const sizes = {};
  for (const [name, source] of Object.entries(WORKERS)) {
    const code = await bundleWorker(source);
    sizes[name] = { raw: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length };
  }
  const base = sizes.hono;
  const withWeb = sizes['hono + ipstamp/web'];
  return { sizes, beyondHono: { raw: withWeb.raw - base.raw, gzip: withWeb.gzip - base.gzip } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureWebSize();
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    for (const [name, { raw, gzip }] of Object.entries(result.sizes))
      console.log(`${name.padEnd(20)} ${kb(raw).padStart(9)} raw ${kb(gzip).padStart(9)} gzipped`);
    console.log(
      `${'beyond Hono'.padEnd(20)} ${kb(result.beyondHono.raw).padStart(9)} raw ${kb(result.beyondHono.gzip).padStart(9)} gzipped (budget 20 KB gzipped)`,
    );
  }
}
