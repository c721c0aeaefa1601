import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../../examples/browser/build-bundle.mjs';
import { ipstamp } from '../../server/fastify/plugin.js';
import { chromiumPath, collectPageProblems, launchChromium, type PageProblems } from '../support/chromium.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { PAGE, startBrowserTestApp, type BrowserTestApp } from './app.js';
import { openTestPage, registerInPage } from './page-driver.js';

/**
 * Issue 18, clients with wrong clocks, in real Chromium: playwright's clock moves the page's
 * `Date` (and nothing else: not the server, not the network) two minutes off. The SDK must end
 * up accepted — after one refused stamp with a static address, at once with `ip: 'echo'` —
 * same-origin, and cross-origin: a static address where the api exposes `Date`
 * (`ipstamp serve --cors-origin`), `'echo'` from the echo's `time` even where it does not.
 */
const executable = chromiumPath();
const MINUTE = 60_000;

/** Chromium logs every 4xx answer to fetch on the console; the clock refusals are provoked on purpose. */
const REJECTION_LOG = /^console: Failed to load resource: the server responded with a status of 401 \(Unauthorized\)$/;

interface PageOutcome {
  status: number;
  reason: unknown;
  /** Status of each answer the page got from `origin` for this call, in order (echo included). */
  answers: string[];
}

/** Opens a page on `origin` whose clock runs `shiftMs` away from the real one, and checks that it does. */
async function shiftedPage(context: BrowserContext, origin: string, shiftMs: number): Promise<Page> {
  const page = await context.newPage();
  await page.clock.install({ time: Date.now() + shiftMs });
  await openTestPage(page, origin);
  const pageOffset = (await page.evaluate(() => Date.now())) - Date.now();
  expect(Math.sign(pageOffset)).toBe(Math.sign(shiftMs));
  expect(Math.abs(pageOffset)).toBeGreaterThan(Math.abs(shiftMs) / 2);
  return page;
}

/** One call through a new `createStampedFetch` in the page, with `window.keys.page`; what the page saw of it. */
async function callInPage(
  page: Page,
  apiOrigin: string,
  ip: '127.0.0.1' | 'echo',
  path: string,
  options: { maxClockCorrectionMs?: number } = {},
): Promise<PageOutcome> {
  const answers: string[] = [];
  const onResponse = (r: { url(): string; status(): number; request(): { method(): string } }) => {
    if (r.url().startsWith(apiOrigin) && r.request().method() !== 'OPTIONS') answers.push(`${r.status()} ${new URL(r.url()).pathname}`);
  };
  page.on('response', onResponse);
  try {
    const outcome = await page.evaluate(
      async ({ url, ip, options }) => {
        const stampedFetch = window.ipstamp.createStampedFetch({ key: window.keys.page!, ip, bodyDigest: true, ...options });
        const response = await stampedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"tea"}' });
        const body = (await response.json()) as { reason?: unknown };
        return { status: response.status, reason: body.reason };
      },
      { url: `${apiOrigin}${path}`, ip, options },
    );
    return { ...outcome, answers };
  } finally {
    page.off('response', onResponse);
  }
}

async function keyInPage(page: Page): Promise<Record<string, unknown>> {
  return page.evaluate(async () => {
    const key = await window.ipstamp.generateStampKey({ alg: 'ES256' });
    window.keys = { page: key };
    return key.publicJwk as Record<string, unknown>;
  });
}

describe.skipIf(!executable)('a page whose clock is 2 minutes off, in headless Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let bundle = '';

  beforeAll(async () => {
    bundle = (await buildBrowserBundle({ outfile: false })).code;
    browser = await launchChromium(executable!);
    context = await browser.newContext();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe('same origin (the Fastify plugin)', () => {
    let app: BrowserTestApp;
    beforeAll(async () => {
      app = await startBrowserTestApp(bundle);
    });
    afterAll(() => app?.close());

    for (const [shift, reason] of [
      [-2 * MINUTE, 'expired'],
      [+2 * MINUTE, 'not-yet-valid'],
    ] as const) {
      it(`clock ${shift < 0 ? 'behind' : 'ahead'}: a static address is refused ${reason} once and accepted on the retry; 'echo' is accepted at once`, async () => {
        const page = await shiftedPage(context, app.origin, shift);
        const problems: PageProblems = collectPageProblems(page);
        await keyInPage(page);
        expect((await registerInPage(page, 'page')).status).toBe(201);

        expect(await callInPage(page, app.origin, '127.0.0.1', '/orders')).toEqual({ status: 200, reason: undefined, answers: ['401 /orders', '200 /orders'] });
        // the echo answer's Date corrects the clock before the first stamp is signed
        expect(await callInPage(page, app.origin, 'echo', '/orders')).toEqual({
          status: 200,
          reason: undefined,
          answers: ['200 /.well-known/ipstamp', '200 /orders'],
        });
        // with correction off, the page's clock is what it signs with
        expect(await callInPage(page, app.origin, '127.0.0.1', '/orders', { maxClockCorrectionMs: 0 })).toEqual({
          status: 401,
          reason,
          answers: ['401 /orders'],
        });

        expect(problems.errors.filter((line) => !REJECTION_LOG.test(line))).toEqual([]);
        await page.close();
      });
    }
  });

  describe('another origin', () => {
    const scratch = scratchDir();
    let site: FastifyInstance;
    let pageOrigin = '';
    let page: Page;
    let publicJwk: Record<string, unknown> = {};

    beforeAll(async () => {
      site = Fastify();
      site.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
      site.get('/ipstamp.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(bundle));
      await site.listen({ host: '127.0.0.1', port: 0 });
      pageOrigin = `http://127.0.0.1:${(site.server.address() as AddressInfo).port}`;
      page = await shiftedPage(context, pageOrigin, -2 * MINUTE);
      publicJwk = await keyInPage(page);
    }, 60_000);
    afterAll(async () => {
      await page?.close();
      await site?.close();
      scratch.cleanup();
    });

    it('ipstamp serve --cors-origin exposes Date: refused once, accepted on the retry', async () => {
      const keys = scratch.file('page-keys.json', { keys: [publicJwk] });
      const serve: RunningServe = await startServe(['--port', '0', '--keys', keys, '--cors-origin', pageOrigin]);
      try {
        expect(await callInPage(page, serve.url, '127.0.0.1', '/orders')).toEqual({ status: 200, reason: undefined, answers: ['401 /orders', '200 /orders'] });
      } finally {
        await serve.stop();
      }
    });

    it("@fastify/cors without exposedHeaders: the page cannot read Date, so a static address gets the refusal back; 'echo' learns the echo's time", async () => {
      const api = Fastify();
      await api.register(ipstamp, { keys: { keys: [publicJwk] } });
      await api.register(cors, { origin: [pageOrigin], methods: ['GET', 'POST'], allowedHeaders: ['client-ip-attestation', 'content-type'] });
      api.post('/orders', async () => ({ ok: true }));
      await api.listen({ host: '127.0.0.1', port: 0 });
      try {
        const apiOrigin = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
        expect(await callInPage(page, apiOrigin, '127.0.0.1', '/orders')).toEqual({ status: 401, reason: 'expired', answers: ['401 /orders'] });
        // the echo body is readable wherever the echo works at all, and its `time` is the verifier's clock
        expect(await callInPage(page, apiOrigin, 'echo', '/orders')).toEqual({
          status: 200,
          reason: undefined,
          answers: ['200 /.well-known/ipstamp', '200 /orders'],
        });
      } finally {
        await api.close();
      }
    });
  });
});
