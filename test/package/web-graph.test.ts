import { build } from 'esbuild';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleWorker, WORKERS } from '../../bench/web-size.js';

/**
 * ipstamp/web bundles for a runtime that has no Node: esbuild with platform `neutral` follows
 * every import of the source entry (dynamic ones too) and fails on any `node:` module, which it
 * cannot resolve there; the bundle then names no `node:` module and no Buffer. (module-graph.test.ts
 * checks what the built entry loads in Node; bench/web-size.js prints the sizes.)
 */
const root = resolve(import.meta.dirname, '../..');

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    write: false,
    platform: 'neutral',
    format: 'esm',
    // what a Worker bundler asks for; `node` is not among them
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    minify: true,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe('ipstamp/web module graph', () => {
  it('bundles with platform neutral: no node: import, no Buffer, createWebVerifier in it', async () => {
    const code = await bundle('server/web/index.ts');
    expect(code).toContain('createWebVerifier');
    expect(code.match(/["'`]node:[a-z_/]+["'`]/g) ?? []).toEqual([]);
    expect(code.match(/\bBuffer\b/g) ?? []).toEqual([]);
  });

  // the Workers bench/web-size.js measures, bundled from dist/ as wrangler would (sizes are the bench's, not asserted)
  it.each(Object.keys(WORKERS))('the %s Worker builds, with no node: import', async (name) => {
    const code = await bundleWorker(WORKERS[name as keyof typeof WORKERS]);
    expect(code.length).toBeGreaterThan(0);
    expect(code.match(/["'`]node:[a-z_/]+["'`]/g) ?? []).toEqual([]);
    if (name !== 'hono') expect(code).toContain('client-ip-attestation');
  });

  it('the same bundle of the Node entry fails on its node: imports (the check can fail)', async () => {
    await expect(bundle('server/index.ts')).rejects.toThrow(/node:/);
  });
});
