import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair } from 'jose';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../../examples/browser/build-bundle.mjs';
import { ipstamp } from '../../server/fastify/plugin.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { STAMP_HEADER, TICKET_HEADER } from '../../shared/schema.js';
import { chromiumPath, collectPageProblems, launchChromium, type PageProblems } from '../support/chromium.js';
import { PAGE } from './app.js';
import type { PageReply } from './page-driver.js';

/**
 * Real Chromium: the page comes from the edge (an issuer), holds a non-extractable key from
 * generateStampKey, gets a ticket from the edge and calls an api on another origin that was
 * never told of the key — only of the issuer, by the URL of its JWK Set.
 */
const executable = chromiumPath();

const open = { config: { ipstamp: false as const } };

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(decodeBase64urlText(token.split('.')[1] ?? '') ?? 'null') as Record<string, unknown>;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

describe.skipIf(!executable)('tickets in headless Chromium: key made in the page, ticket from the edge, accepted by another origin', () => {
  let edge: FastifyInstance;
  let api: FastifyInstance;
  let edgeOrigin = '';
  let apiOrigin = '';
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;

  beforeAll(async () => {
    const { code } = await buildBrowserBundle({ outfile: false });
    const pair = await generateKeyPair('ES256', { extractable: true });
    edge = Fastify();
    await edge.register(ipstamp, { keys: { keys: [] }, issuer: { key: { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' } } });
    edge.get('/', open, async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
    edge.get('/ipstamp.js', open, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(code));
    edgeOrigin = await listen(edge);

    // no key registry, no keys: the api trusts the issuer alone, fetching its JWK Set when a ticket names it
    api = Fastify();
    api.addHook('onSend', async (_request, reply) => {
      void reply.header('access-control-allow-origin', edgeOrigin);
    });
    await api.register(ipstamp, { keys: { keys: [] }, issuers: { [edgeOrigin]: `${edgeOrigin}/.well-known/ipstamp/issuer-jwks` } });
    // a page on another origin sends both headers only once the api's CORS preflight allows them
    api.options('/*', open, async (_request, reply) =>
      reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST')
        .header('access-control-allow-headers', `${STAMP_HEADER}, ${TICKET_HEADER}, content-type`)
        .send(),
    );
    api.route({
      method: ['GET', 'POST'],
      url: '/orders',
      handler: async (request) => {
        const { ip, agreement, kid, source, issuer } = request.ipStamp!;
        return { ip, agreement, kid, source, issuer, body: request.body };
      },
    });
    apiOrigin = await listen(api);

    browser = await launchChromium(executable!);
    page = await browser.newPage();
    problems = collectPageProblems(page);
    await page.goto(`${edgeOrigin}/`);
    await page.waitForFunction(() => document.title === 'ready' && typeof window.ipstamp === 'object', undefined, { timeout: 10_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await edge?.close();
  });

  /** In the page: a new non-extractable key, then `calls` requests through createStampedFetch in ticket mode. */
  function ticketCallsInPage(alg: 'ES256' | 'EdDSA', api: string) {
    return page.evaluate(
      async ({ alg, api }) => {
        const key = await window.ipstamp.generateStampKey({ alg });
        const stampedFetch = window.ipstamp.createStampedFetch({ key, ip: 'ticket', issuer: location.origin, bodyDigest: true });
        const replies: PageReply[] = [];
        for (const body of [undefined, JSON.stringify({ item: 'tea', n: 2 })]) {
          const init: RequestInit = body === undefined ? {} : { method: 'POST', body, headers: { 'content-type': 'application/json' } };
          const response = await stampedFetch(`${api}/orders`, init);
          replies.push({ status: response.status, body: (await response.json()) as Record<string, unknown> });
        }
        return { kid: key.kid, extractable: key.privateKey.extractable, replies };
      },
      { alg, api },
    );
  }

  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: GET and POST accepted with source ticket and the page's address, the key never registered nor extractable`, async () => {
      const ticketRequests: string[] = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/.well-known/ipstamp/ticket')) ticketRequests.push(r.method());
      });
      const [captured, result] = await Promise.all([
        page.waitForRequest((r) => r.url() === `${apiOrigin}/orders` && r.method() === 'POST'),
        ticketCallsInPage(alg, apiOrigin),
      ]);
      expect(result.extractable).toBe(false);
      expect(ticketRequests).toEqual(['POST']); // one ticket, reused for both calls
      const verdict = { ip: '127.0.0.1', agreement: 'match', kid: result.kid, source: 'ticket', issuer: edgeOrigin };
      expect(result.replies).toEqual([
        { status: 200, body: verdict },
        { status: 200, body: { ...verdict, body: { item: 'tea', n: 2 } } },
      ]);

      const headers = await captured.allHeaders();
      expect(claimsOf(headers[STAMP_HEADER]!)).toMatchObject({ obs: 'ticket', ip: '127.0.0.1', htm: 'POST', tth: expect.any(String), cdg: expect.any(String) });
      // what an eavesdropper took from the page is spent: the stamp was single use
      const again = await fetch(captured.url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', [STAMP_HEADER]: headers[STAMP_HEADER]!, [TICKET_HEADER]: headers[TICKET_HEADER]! },
        body: captured.postData()!,
      });
      expect(again.status).toBe(401);
      expect(((await again.json()) as { reason: string }).reason).toBe('replay');
      expect(problems.errors).toEqual([]);
    });
  }
});
