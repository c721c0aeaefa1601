import { resolve } from 'node:path';
import { build } from 'esbuild';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { bunConnection, cloudflareConnection, denoConnection, ipstamp } from '../../server/hono/web.js';
import { makeKey } from '../support/keys.js';

/**
 * `ipstamp/hono/web`: the Hono glue over the web verifier. What it must be on its own, in
 * Node; in real workerd, Bun and Deno: test/runtimes/.
 */
const root = resolve(import.meta.dirname, '../..');

/** Bundles `source` as wrangler does for a Worker (esbuild, neutral platform, workerd/worker/browser conditions). */
async function workerBundle(source: string): Promise<{ ok: true; text: string } | { ok: false; errors: string[] }> {
  try {
    const result = await build({
      stdin: { contents: source, resolveDir: root, loader: 'js' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['module', 'main'],
      logLevel: 'silent',
    });
    return { ok: true, text: result.outputFiles[0]!.text };
  } catch (error) {
    return { ok: false, errors: (error as { errors: { text: string }[] }).errors.map((e) => e.text) };
  }
}

describe('ipstamp/hono/web', () => {
  it('goes into a Worker bundle with no node: import (the built package, as wrangler resolves it)', async () => {
    const bundle = await workerBundle("export { ipstamp, cloudflareConnection } from 'ipstamp/hono/web'; export * from 'ipstamp/cloudflare';");
    expect(bundle).toMatchObject({ ok: true });
    expect((bundle as { text: string }).text).not.toMatch(/from\s*["']node:/);
  });

  it('(control) ipstamp/hono, the Node entry, does not', async () => {
    const bundle = await workerBundle("export { ipstamp } from 'ipstamp/hono';");
    expect(bundle.ok).toBe(false);
  });

  it('names a missing connection and an issuer with a TypeError at setup', async () => {
    const key = await makeKey('HS256', 'web-hs');
    const keys = { keys: [key.publicJwk] };
    expect(() => ipstamp({ keys } as never)).toThrow(/^connection must be a function/);
    expect(() => ipstamp({ keys, connection: 'cf' } as never)).toThrow(/^connection must be a function/);
    expect(() => ipstamp({ keys, connection: cloudflareConnection, issuer: {} } as never)).toThrow(/^issuer is not available in ipstamp\/hono\/web/);
    expect(() => ipstamp({ keys, connection: cloudflareConnection, bodyLimit: -1 })).toThrow(/^bodyLimit must be/);
    expect(() => ipstamp({ keys, connection: cloudflareConnection, required: 'yes' } as never)).toThrow(/^required must be a boolean/);
  });

  it('names an unknown option with a TypeError at setup (telemetry too: the web verifier takes none)', async () => {
    const key = await makeKey('HS256', 'web-hs');
    const keys = { keys: [key.publicJwk] };
    expect(() => ipstamp({ keys, connection: cloudflareConnection, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    expect(() => ipstamp({ keys, connection: cloudflareConnection, requireStamp: false } as never)).toThrow(new TypeError('unknown option "requireStamp"'));
    expect(() => ipstamp({ keys, connection: cloudflareConnection, telemetry: {} } as never)).toThrow(new TypeError('unknown option "telemetry"'));
    expect(() => ipstamp({ keys, connection: cloudflareConnection, required: false, echo: false, bodyLimit: 1, maxAge: 30 })).not.toThrow();
  });

  it('with the Cloudflare preset, CF-Connecting-IP is the peer; without it, the peer is unknown and refused', async () => {
    const key = await makeKey('HS256', 'web-hs');
    const app = new Hono();
    app.use(ipstamp({ keys: { keys: [key.publicJwk] }, connection: cloudflareConnection }));
    app.get('/orders', (c) => c.json(c.get('ipStamp' as never)));
    const url = 'https://api.example/orders';
    const stamp = () => createStamper({ key: key.privateJwk, ip: '203.0.113.7' }).stamp({ method: 'GET', url });
    const ok = await app.request(url, { headers: { 'client-ip-attestation': await stamp(), 'cf-connecting-ip': '203.0.113.7' } });
    expect([ok.status, ((await ok.json()) as { agreement: string }).agreement]).toEqual([200, 'match']);
    const none = await app.request(url, { headers: { 'client-ip-attestation': await stamp() } });
    expect([none.status, ((await none.json()) as { reason: string }).reason]).toEqual([403, 'ip-unverifiable']);
    const echo = await app.request('https://api.example/.well-known/ipstamp', { headers: { 'cf-connecting-ip': '203.0.113.7' } });
    expect(await echo.json()).toEqual({ ip: '203.0.113.7', time: expect.any(Number) });
  });

  it("the echo answers the web verifier's own walk (a trusted proxy's forwarding header); stamp.verifier has the configured bodyLimit", async () => {
    const key = await makeKey('HS256', 'web-hs');
    const stamp = ipstamp({ keys: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'], bodyLimit: 10, connection: () => ({ l3: '127.0.0.1' }) });
    expect(stamp.verifier.settings.bodyLimit).toBe(10);
    const app = new Hono().use(stamp);
    const echo = await app.request('https://api.example/.well-known/ipstamp', { headers: { 'x-forwarded-for': '198.51.100.9' } });
    expect(await echo.json()).toEqual({ ip: '198.51.100.9', time: expect.any(Number) });
  });

  it("the echo's time is the verifier's clock (the now option), the one its freshness checks read", async () => {
    const key = await makeKey('HS256', 'web-hs');
    const now = () => 1_700_000_000_500;
    const app = new Hono().use(ipstamp({ keys: { keys: [key.publicJwk] }, now, connection: () => ({ l3: '127.0.0.1' }) }));
    const echo = await app.request('https://api.example/.well-known/ipstamp');
    expect(await echo.json()).toEqual({ ip: '127.0.0.1', time: 1_700_000_000 });
  });

  it('the Bun and Deno presets read what the runtime hands Hono as env; anything else is an unknown peer', async () => {
    const key = await makeKey('HS256', 'web-hs');
    const url = 'http://127.0.0.1/.well-known/ipstamp';
    for (const [connection, env, expected] of [
      [bunConnection, { requestIP: () => ({ address: '127.0.0.9', port: 5, family: 'IPv4' }) }, 200],
      [bunConnection, { server: { requestIP: () => ({ address: '127.0.0.9', port: 5, family: 'IPv4' }) } }, 200],
      [bunConnection, { requestIP: () => null }, 403],
      [bunConnection, {}, 403],
      [denoConnection, { remoteAddr: { transport: 'tcp', hostname: '127.0.0.9', port: 5 } }, 200],
      [denoConnection, { remoteAddr: { transport: 'tcp', hostname: '0.0.0.0', port: 0 } }, 403],
      [denoConnection, undefined, 403],
    ] as const) {
      const app = new Hono();
      app.use(ipstamp({ keys: { keys: [key.publicJwk] }, connection }));
      const response = await app.request(url, {}, env);
      expect(response.status, JSON.stringify(env)).toBe(expected);
      if (expected === 200) expect(await response.json()).toEqual({ ip: '127.0.0.9', time: expect.any(Number) });
    }
  });
});
