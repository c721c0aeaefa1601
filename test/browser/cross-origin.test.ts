import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../../examples/browser/build-bundle.mjs';
import { ipstamp } from '../../server/fastify/plugin.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { STAMP_HEADER } from '../../shared/schema.js';
import { chromiumPath, collectPageProblems, launchChromium, type PageProblems } from '../support/chromium.js';
import { scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { PAGE } from './app.js';
import type { PageReply } from './page-driver.js';

/**
 * Real Chromium, issue 12 item 10: the page comes from one origin (127.0.0.1:PORT_A), the api
 * listens on another (127.0.0.1:PORT_B). The SDK's stamped fetch asks the api's echo route
 * for the address (a cross-origin GET), then sends a POST with Client-IP-Attestation and a
 * body digest, which Chromium sends only after a CORS preflight the api allowed. The api is
 * `ipstamp serve --cors-origin` (a process) or the plugin with @fastify/cors registered after it.
 */
const executable = chromiumPath();

/** Chromium logs every 4xx answer to fetch on the console; the replay is provoked on purpose. */
const REPLAY_LOG = /^console: Failed to load resource: the server responded with a status of 401 \(Unauthorized\)$/;

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(decodeBase64urlText(token.split('.')[1] ?? '') ?? 'null') as Record<string, unknown>;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

interface Api {
  readonly origin: string;
  close(): Promise<unknown>;
}

const scratch = scratchDir();

const APIS: Record<string, (pageOrigin: string, publicJwk: Record<string, unknown>) => Promise<Api>> = {
  'ipstamp serve --cors-origin': async (pageOrigin, publicJwk) => {
    const keys = scratch.file('page-keys.json', { keys: [publicJwk] });
    const serve: RunningServe = await startServe(['--port', '0', '--keys', keys, '--cors-origin', pageOrigin, '--require-body-digest']);
    return { origin: serve.url, close: () => serve.stop() };
  },
  'the plugin, then @fastify/cors': async (pageOrigin, publicJwk) => {
    const app = Fastify();
    await app.register(ipstamp, { keys: { keys: [publicJwk] }, requireBodyDigest: true });
    await app.register(cors, { origin: [pageOrigin], methods: ['GET', 'POST'], allowedHeaders: ['client-ip-attestation', 'client-ip-ticket', 'content-type'] });
    app.post('/orders', async (request) => {
      const { ip, agreement, kid } = request.ipStamp!;
      return { ip, agreement, kid, body: request.body };
    });
    return { origin: await listen(app), close: () => app.close() };
  },
};

describe.skipIf(!executable)('a page on another origin in headless Chromium', () => {
  let site: FastifyInstance;
  let pageOrigin = '';
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;
  let publicJwk: Record<string, unknown> = {};
  let kid = '';

  beforeAll(async () => {
    const { code } = await buildBrowserBundle({ outfile: false });
    // the site that serves the page knows nothing of ipstamp
    site = Fastify();
    site.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
    site.get('/ipstamp.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(code));
    pageOrigin = await listen(site);

    browser = await launchChromium(executable!);
    page = await browser.newPage();
    problems = collectPageProblems(page);
    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => document.title === 'ready' && typeof window.ipstamp === 'object', undefined, { timeout: 10_000 });
    ({ publicJwk, kid } = await page.evaluate(async () => {
      const key = await window.ipstamp.generateStampKey({ alg: 'ES256' });
      window.keys = { page: key };
      return { publicJwk: key.publicJwk as Record<string, unknown>, kid: key.kid };
    }));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    scratch.cleanup();
  });

  for (const [name, startApi] of Object.entries(APIS)) {
    describe(name, () => {
      let api: Api;
      beforeAll(async () => {
        api = await startApi(pageOrigin, publicJwk);
        expect(api.origin).not.toBe(pageOrigin);
      }, 60_000);
      afterAll(async () => {
        await api?.close();
      });

      it('echo + body digest: the stamped POST is accepted (match); the same stamp again is refused and the page reads "replay"', async () => {
        const seen: string[] = [];
        const onRequest = (r: { url(): string; method(): string }) => {
          if (r.url().startsWith(api.origin)) seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
        };
        page.on('request', onRequest);
        const [captured, first] = await Promise.all([
          page.waitForRequest((r) => r.url() === `${api.origin}/orders` && r.method() === 'POST'),
          page.evaluate(async (apiOrigin) => {
            const stampedFetch = window.ipstamp.createStampedFetch({ key: window.keys.page!, ip: 'echo', bodyDigest: true });
            const response = await stampedFetch(`${apiOrigin}/orders`, {
              method: 'POST',
              body: JSON.stringify({ item: 'tea', n: 2 }),
              headers: { 'content-type': 'application/json' },
            });
            const reply: PageReply = { status: response.status, body: (await response.json()) as Record<string, unknown> };
            return reply;
          }, api.origin),
        ]);
        page.off('request', onRequest);
        expect(first.status).toBe(200);
        expect(first.body).toMatchObject({ ip: '127.0.0.1', agreement: 'match', kid });
        // the address came from the api's own echo route, asked cross-origin
        expect(seen).toEqual(['GET /.well-known/ipstamp', 'POST /orders']);

        const headers = await captured.allHeaders();
        const token = headers[STAMP_HEADER]!;
        expect(claimsOf(token)).toMatchObject({
          ip: '127.0.0.1',
          obs: 'echo',
          htm: 'POST',
          htu: `${api.origin}/orders`,
          cdg: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        });

        // the page sends the captured stamp again, same body: refused, and the refusal is readable cross-origin
        const replay = await page.evaluate(
          async ({ url, token, body }) => {
            const response = await fetch(url, { method: 'POST', headers: { 'client-ip-attestation': token, 'content-type': 'application/json' }, body });
            return { status: response.status, type: response.headers.get('content-type'), reason: ((await response.json()) as { reason?: unknown }).reason };
          },
          { url: captured.url(), token, body: captured.postData()! },
        );
        expect(replay).toEqual({ status: 401, type: 'application/problem+json', reason: 'replay' });
        expect(problems.errors.filter((line) => !REPLAY_LOG.test(line))).toEqual([]);
        problems.errors.length = 0;
      });
    });
  }
});
