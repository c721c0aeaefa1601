import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What importing each entry point loads, measured in a fresh process with a loader hook
 * (loaded-modules.mjs) against the BUILT package, as a user imports it. An entry loads only
 * what its use needs: `ipstamp/server` no framework, Redis client, HTTP client or harness;
 * `ipstamp` and `ipstamp/client` nothing of Node, because they run in browsers.
 */
const root = resolve(import.meta.dirname, '../..');
const dist = join(root, 'dist');

interface Loaded {
  /** npm packages, by name (`@scope/name`). */
  packages: string[];
  /** Files of this package, relative to dist/ (`server/verify/verifier.js`). */
  own: string[];
  /** `node:` builtins. */
  builtins: string[];
}

const loadedBy = new Map<string, Loaded>();

function load(specifier: string): Loaded {
  // one process per entry for the whole file: a later test that asks again reads the same answer
  const known = loadedBy.get(specifier);
  if (known !== undefined) return known;
  const out = execFileSync(process.execPath, [join(import.meta.dirname, 'loaded-modules.mjs'), specifier], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  const { modules } = JSON.parse(out) as { modules: string[] };
  const files = modules.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url));
  const loaded = {
    packages: [...new Set(files.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1]).filter((p) => p !== undefined))].sort(),
    own: files
      .filter((f) => f.startsWith(`${dist}/`))
      .map((f) => f.slice(dist.length + 1))
      .sort(),
    builtins: modules.filter((url) => url.startsWith('node:')).sort(),
  };
  loadedBy.set(specifier, loaded);
  return loaded;
}

const FRAMEWORK = /^(fastify|fastify-plugin|@fastify\/.*)$/;
const REDIS = /^ioredis$/;
const HTTP_CLIENT = /^undici$/;
const matching = (names: string[], pattern: RegExp) => names.filter((n) => pattern.test(n));
const under = (files: string[], ...folders: string[]) => files.filter((f) => folders.some((folder) => f.startsWith(folder)));

describe('what each entry point loads', () => {
  it('dist/ is built (npm test builds first; a direct vitest run needs `npx tsc -p tsconfig.json`)', () => {
    expect(existsSync(join(dist, 'server/index.js'))).toBe(true);
  });

  it('ipstamp/server: the core only — no framework, Redis client, HTTP client, harness, CLI or adapter', () => {
    const loaded = load('ipstamp/server');
    expect(loaded.own).toContain('server/verify/verifier.js'); // the probe sees the graph
    expect(matching(loaded.packages, FRAMEWORK)).toEqual([]);
    expect(matching(loaded.packages, REDIS)).toEqual([]);
    expect(matching(loaded.packages, HTTP_CLIENT)).toEqual([]);
    expect(under(loaded.own, 'server/attack/', 'server/fastify/', 'server/cli/', 'server/demo/', 'client/')).toEqual([]);
    expect(under(loaded.own, 'server/redis.js', 'server/stores/redis.js')).toEqual([]);
  });

  it('ipstamp: protocol data only — no node: module, nothing of client/ or server/, no package but zod', () => {
    const loaded = load('ipstamp');
    expect(loaded.own).toContain('shared/index.js');
    expect(loaded.builtins).toEqual([]);
    expect(under(loaded.own, 'client/', 'server/')).toEqual([]);
    expect(loaded.packages.filter((p) => p !== 'zod')).toEqual([]);
  });

  it('ipstamp/client: universal — no node: module, no *.node.js file, nothing of server/, no package but jose and zod', () => {
    const loaded = load('ipstamp/client');
    expect(loaded.own).toContain('client/stamped-fetch.js');
    expect(loaded.builtins).toEqual([]);
    expect(loaded.own.filter((f) => f.endsWith('.node.js'))).toEqual([]);
    expect(under(loaded.own, 'server/')).toEqual([]);
    expect(loaded.packages.filter((p) => p !== 'jose' && p !== 'zod')).toEqual([]);
  });

  it('ipstamp/client/node: the client and undici — nothing of server/, no framework or Redis client', () => {
    const loaded = load('ipstamp/client/node');
    expect(loaded.own).toContain('client/interceptor.node.js');
    expect(under(loaded.own, 'server/')).toEqual([]);
    expect(matching(loaded.packages, FRAMEWORK)).toEqual([]);
    expect(matching(loaded.packages, REDIS)).toEqual([]);
  });

  it('ipstamp/fastify: the plugin — no Redis client, HTTP client, harness or CLI', () => {
    const loaded = load('ipstamp/fastify');
    expect(loaded.packages).toContain('fastify-plugin');
    expect(matching(loaded.packages, REDIS)).toEqual([]);
    expect(matching(loaded.packages, HTTP_CLIENT)).toEqual([]);
    expect(under(loaded.own, 'server/attack/', 'server/cli/', 'server/demo/', 'server/stores/redis.js')).toEqual([]);
  });

  it.each(['ipstamp/server', 'ipstamp/fastify', 'ipstamp/node', 'ipstamp/hono'])(
    '%s builds no zod schema (a server that built one paid ~1.4 µs more CPU on every request, #16) and loads no @fastify/rate-limit',
    (entry) => {
      const loaded = load(entry);
      expect(loaded.own).toContain('server/verify/verifier.js');
      expect(loaded.packages.filter((p) => p === 'zod' || p === '@fastify/rate-limit')).toEqual([]);
      expect(under(loaded.own, 'shared/schema.js', 'shared/ticket-schema.js', 'server/fastify/ticket-routes.js')).toEqual([]);
    },
  );

  it('ipstamp/node: the node:http/Express middleware — no framework package, Redis client, HTTP client, other adapter, harness or CLI', () => {
    const loaded = load('ipstamp/node');
    expect(loaded.own).toContain('server/node/middleware.js');
    expect(matching(loaded.packages, FRAMEWORK)).toEqual([]);
    expect(matching(loaded.packages, /^(express|hono|@hono\/.*)$/)).toEqual([]);
    expect(matching(loaded.packages, REDIS)).toEqual([]);
    expect(matching(loaded.packages, HTTP_CLIENT)).toEqual([]);
    expect(under(loaded.own, 'server/attack/', 'server/fastify/', 'server/cli/', 'server/demo/', 'server/stores/redis.js', 'client/')).toEqual([]);
  });

  it('ipstamp/hono: the middleware — no Hono code at run time (types only), no other framework, Redis client, HTTP client, harness or CLI', () => {
    const loaded = load('ipstamp/hono');
    expect(loaded.own).toContain('server/hono/middleware.js');
    // the app brings its own hono and runtime adapter; the middleware only needs their types
    expect(loaded.packages.filter((p) => p === 'hono' || p.startsWith('@hono/'))).toEqual([]);
    expect(matching(loaded.packages, FRAMEWORK)).toEqual([]);
    expect(matching(loaded.packages, REDIS)).toEqual([]);
    expect(matching(loaded.packages, HTTP_CLIENT)).toEqual([]);
    expect(under(loaded.own, 'server/attack/', 'server/fastify/', 'server/cli/', 'server/demo/', 'server/stores/redis.js', 'client/')).toEqual([]);
  });

  it('ipstamp/web: the web verifier — no node: module, no framework, Redis client, HTTP client, Node adapter, harness or CLI', () => {
    const loaded = load('ipstamp/web');
    expect(loaded.own).toContain('server/web/web-verifier.js');
    expect(loaded.builtins).toEqual([]);
    expect(loaded.packages.filter((p) => p !== 'jose' && p !== 'zod')).toEqual([]);
    expect(under(loaded.own, 'server/hints/trust.js', 'server/jws/compact.js', 'server/jws/node-crypto.js', 'server/verify/node-platform.js')).toEqual([]);
    expect(
      under(
        loaded.own,
        'server/attack/',
        'server/fastify/',
        'server/node/',
        'server/hono/',
        'server/cli/',
        'server/demo/',
        'server/stores/redis.js',
        'client/',
      ),
    ).toEqual([]);
  });

  it('ipstamp/redis: the store and ioredis — no framework, HTTP client, harness or CLI', () => {
    const loaded = load('ipstamp/redis');
    expect(loaded.packages).toContain('ioredis');
    expect(matching(loaded.packages, FRAMEWORK)).toEqual([]);
    expect(matching(loaded.packages, HTTP_CLIENT)).toEqual([]);
    expect(under(loaded.own, 'server/attack/', 'server/fastify/', 'server/cli/', 'server/demo/')).toEqual([]);
  });

  it('ipstamp/telemetry: @opentelemetry/api and the instrumentation — no framework, Redis client, HTTP client, adapter or CLI', () => {
    const loaded = load('ipstamp/telemetry');
    expect(loaded.own).toContain('server/telemetry/open-telemetry.js');
    expect(loaded.packages).toEqual(['@opentelemetry/api']);
    expect(under(loaded.own, 'server/fastify/', 'server/node/', 'server/hono/', 'server/cli/', 'server/attack/', 'client/')).toEqual([]);
  });

  it('@opentelemetry/api (an optional peer) is loaded by ipstamp/telemetry only', () => {
    const entries = ['ipstamp', 'ipstamp/client', 'ipstamp/client/node', 'ipstamp/server', 'ipstamp/fastify', 'ipstamp/node', 'ipstamp/hono', 'ipstamp/redis'];
    const loading = entries.filter((entry) => load(entry).packages.some((p) => p.startsWith('@opentelemetry/')));
    expect(loading).toEqual([]);
  });

  it('ipstamp/cloudflare: the Durable Object store — no node: module, no package, nothing of a framework glue, the CLI or the client', () => {
    const loaded = load('ipstamp/cloudflare');
    expect(loaded.own).toContain('server/cloudflare/replay-object.js');
    expect(loaded.builtins).toEqual([]);
    expect(loaded.packages).toEqual([]);
    expect(
      under(loaded.own, 'server/attack/', 'server/fastify/', 'server/node/', 'server/hono/', 'server/cli/', 'server/demo/', 'server/stores/', 'client/'),
    ).toEqual(['server/stores/replay-store.js']);
  });

  it('ipstamp/hono/web: the Hono glue on the web verifier — no node: module, no package but zod-free ipstamp/web, no Node adapter', () => {
    const loaded = load('ipstamp/hono/web');
    expect(loaded.own).toContain('server/hono/glue.js');
    expect(loaded.builtins).toEqual([]);
    expect(loaded.packages.filter((p) => p === 'hono' || p.startsWith('@hono/'))).toEqual([]);
    expect(
      under(
        loaded.own,
        'server/hono/middleware.js',
        'server/hono/ticket-routes.js',
        'server/issuer/',
        'server/node/',
        'server/fastify/',
        'server/cli/',
        'client/',
      ),
    ).toEqual([]);
  });

  it('ipstamp/attack: the harness — no framework, Redis client, adapter or CLI', () => {
    const loaded = load('ipstamp/attack');
    expect(loaded.own).toContain('server/attack/runner.js');
    expect(matching(loaded.packages, FRAMEWORK)).toEqual([]);
    expect(matching(loaded.packages, REDIS)).toEqual([]);
    expect(under(loaded.own, 'server/fastify/', 'server/cli/', 'server/demo/')).toEqual([]);
  });
});

describe('browser-safe files in dist/', () => {
  // The loader only sees what one import loads in Node; a bundler follows every import,
  // dynamic ones included. So no file of dist/shared or dist/client (outside *.node.js)
  // names a node: module at all.
  it('no file of dist/shared or dist/client outside *.node.js imports a node: module', () => {
    const offenders: string[] = [];
    for (const folder of ['shared', 'client']) {
      for (const file of readdirSync(join(dist, folder), { recursive: true, encoding: 'utf8' })) {
        if (!file.endsWith('.js') || file.endsWith('.node.js')) continue;
        const text = readFileSync(join(dist, folder, file), 'utf8');
        if (/(?:from|import)\s*\(?\s*['"]node:/.test(text)) offenders.push(`${folder}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
