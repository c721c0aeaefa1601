import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../../examples/browser/build-bundle.mjs';
import { startExampleServer } from '../../examples/browser/example-server.mjs';
import { chromiumPath, launchChromium } from '../support/chromium.js';

const executable = chromiumPath();
const root = resolve(import.meta.dirname, '../..');
const ARTIFACTS = resolve(root, 'test-artifacts');

/** The example imports the built server (dist/, fresh under `npm test`) and serves a bundle built here from source. */
describe.skipIf(!executable)('examples/browser: the page a person opens', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'ipstamp-example-'));
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const bundleFile = join(scratch, 'ipstamp.js');
    writeFileSync(bundleFile, (await buildBrowserBundle({ outfile: false })).code);
    server = await startExampleServer({ port: 0, bundleFile });
    browser = await launchChromium(executable!);
    page = await browser.newPage({ viewport: { width: 1000, height: 820 } });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const rows = () => page.locator('#results tr');
  /** The newest row's cells: #, request, status, ip, agreement, reason. */
  async function click(button: string): Promise<string[]> {
    const before = await rows().count();
    await page.click(`#${button}`);
    await expect.poll(() => rows().count()).toBe(before + 1);
    return rows().first().locator('td').allTextContents();
  }

  it('generates a key, logs in, shows accepted verdicts, and shows the replayed stamp rejected', async () => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    const kid = await page.textContent('#kid');
    expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/);

    expect(await click('get')).toEqual(['1', 'GET /api/hello', '401 rejected', '—', '—', 'unknown-key']);
    await page.click('#login');
    await expect.poll(() => page.textContent('#registered')).toBe('yes');
    expect(await click('get')).toEqual(['2', 'GET /api/hello', '200 accepted', '127.0.0.1', 'match', '—']);
    expect(await click('post')).toEqual(['3', 'POST /api/orders', '200 accepted', '127.0.0.1', 'match', '—']);
    expect(await click('replay')).toEqual(['4', 'replay of POST /api/orders', '401 rejected', '—', '—', 'replay']);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-example.png'), fullPage: true });

    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.textContent('#kid')).toBe(kid);
    expect(await page.textContent('#stored')).toContain('loaded');
  });

  it('server.mjs refuses a bad --port with exit code 2', async () => {
    const run = promisify(execFile);
    await expect(run('node', [resolve(root, 'examples/browser/server.mjs'), '--port', 'http'])).rejects.toMatchObject({ code: 2 });
  });
});
