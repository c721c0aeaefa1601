import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { STAMP_HEADER } from '../../shared/schema.js';
import { buildBrowserBundle } from '../../examples/browser/build-bundle.mjs';
import { chromiumPath, collectPageProblems, launchChromium, type PageProblems } from '../support/chromium.js';
import { startBrowserTestApp, type BrowserTestApp } from './app.js';
import { generateInPage, openTestPage, registerInPage, stampedFetchInPage } from './page-driver.js';

const executable = chromiumPath();

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(decodeBase64urlText(token.split('.')[1] ?? '') ?? 'null') as Record<string, unknown>;
}

/** Chromium reports every 4xx answer to fetch on the console; these are the ones a test provoked on purpose. */
const REJECTION_LOG = /^console: Failed to load resource: the server responded with a status of 401 \(Unauthorized\)$/;

describe.skipIf(!executable)('ipstamp/client in headless Chromium (dist/browser/ipstamp.js)', () => {
  let app: BrowserTestApp;
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;
  let provokedRejections = 0;

  beforeAll(async () => {
    const { code } = await buildBrowserBundle({ outfile: false });
    app = await startBrowserTestApp(code);
    browser = await launchChromium(executable!);
    page = await browser.newPage();
    problems = collectPageProblems(page);
    await openTestPage(page, app.origin);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Runs `action` and returns the stamp the page put on the wire for `path` (as an eavesdropper sees it). */
  async function captureStamp(path: string, action: () => Promise<unknown>): Promise<{ request: Request; token: string }> {
    const [request] = await Promise.all([page.waitForRequest((r) => new URL(r.url()).pathname === path && r.headers()[STAMP_HEADER] !== undefined), action()]);
    return { request, token: (await request.headerValue(STAMP_HEADER))! };
  }

  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: generateStampKey makes a non-extractable key whose kid is its RFC 7638 thumbprint, and the server registers it`, async () => {
      const key = await generateInPage(page, alg, alg);
      expect(key).toMatchObject({ alg, extractable: false, type: 'private', sameKey: true, exported: 'InvalidAccessError' });
      expect(key.publicJwk).not.toHaveProperty('d');
      expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, kty: alg === 'ES256' ? 'EC' : 'OKP' });
      const registered = await registerInPage(page, alg);
      expect(registered).toEqual({ status: 201, body: { kid: key.kid } }); // the server derived the same thumbprint
    });

    it(`${alg}: stamped GET and POST (body digest) are accepted, agreement match, observed 127.0.0.1`, async () => {
      const get = await stampedFetchInPage(page, { key: alg, ip: '127.0.0.1', method: 'GET', path: '/whoami' });
      expect(get.status).toBe(200);
      expect(get.body.verdict).toMatchObject({ ip: '127.0.0.1', agreement: 'match', observed: '127.0.0.1', l3: '127.0.0.1' });

      const { token } = await captureStamp('/orders', async () => {
        const post = await stampedFetchInPage(page, { key: alg, ip: '127.0.0.1', method: 'POST', path: '/orders', json: { item: 'tea', n: 2 } });
        expect(post.status).toBe(200);
        expect(post.body).toMatchObject({ verdict: { ip: '127.0.0.1', agreement: 'match' }, body: { item: 'tea', n: 2 } });
      });
      expect(claimsOf(token)).toMatchObject({ htm: 'POST', htu: `${app.origin}/orders`, cdg: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    });
  }

  it("ip: 'echo' learns 127.0.0.1 from /.well-known/ipstamp and signs it (obs: echo)", async () => {
    const { token } = await captureStamp('/whoami', async () => {
      const reply = await stampedFetchInPage(page, { key: 'ES256', ip: 'echo', method: 'GET', path: '/whoami' });
      expect(reply.status).toBe(200);
      expect(reply.body.verdict).toMatchObject({ ip: '127.0.0.1', agreement: 'match' });
    });
    expect(claimsOf(token)).toMatchObject({ ip: '127.0.0.1', obs: 'echo' });
  });

  it('a stamp captured from the page and sent again from Node is rejected: replay', async () => {
    const { request, token } = await captureStamp('/orders', () =>
      stampedFetchInPage(page, { key: 'EdDSA', ip: '127.0.0.1', method: 'POST', path: '/orders', json: { item: 'coffee' } }),
    );
    const replayed = await fetch(request.url(), {
      method: 'POST',
      headers: { [STAMP_HEADER]: token, 'content-type': 'application/json' },
      body: request.postData()!,
    });
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ reason: 'replay' });
  });

  it('a stamp signed by a key the server never registered is rejected: unknown-key', async () => {
    await generateInPage(page, 'stranger', 'ES256');
    provokedRejections += 1;
    const reply = await stampedFetchInPage(page, { key: 'stranger', ip: '127.0.0.1', method: 'GET', path: '/whoami' });
    expect(reply).toMatchObject({ status: 401, body: { reason: 'unknown-key' } });
  });

  it('the key survives a reload through IndexedDB, still non-extractable, and still signs accepted stamps', async () => {
    const saved = await page.evaluate(async () => {
      await window.ipstamp.saveStampKey('session', window.keys.ES256!);
      await window.ipstamp.saveStampKey('ed-session', window.keys.EdDSA!);
      return window.keys.ES256!.kid;
    });
    await page.reload();
    await openTestPage(page, app.origin);
    const loaded = await page.evaluate(async () => {
      const key = await window.ipstamp.loadSavedStampKey('session');
      const ed = await window.ipstamp.loadSavedStampKey('ed-session');
      const missing = await window.ipstamp.loadSavedStampKey('nobody');
      if (key === undefined || ed === undefined) return { missing: missing === undefined };
      window.keys = { reloaded: key, edReloaded: ed };
      return { kid: key.kid, alg: key.alg, extractable: key.privateKey.extractable, edAlg: ed.alg, missing: missing === undefined };
    });
    expect(loaded).toEqual({ kid: saved, alg: 'ES256', extractable: false, edAlg: 'EdDSA', missing: true });
    const ed = await stampedFetchInPage(page, { key: 'edReloaded', ip: '127.0.0.1', method: 'POST', path: '/orders', json: {} });
    expect(ed.body.verdict).toMatchObject({ agreement: 'match' });
    const reply = await stampedFetchInPage(page, { key: 'reloaded', ip: '127.0.0.1', method: 'GET', path: '/whoami' });
    expect(reply.status).toBe(200);
    expect(reply.body.verdict).toMatchObject({ kid: saved, agreement: 'match' });

    const afterDelete = await page.evaluate(async () => {
      await window.ipstamp.deleteSavedStampKey('session');
      return (await window.ipstamp.loadSavedStampKey('session')) === undefined;
    });
    expect(afterDelete).toBe(true);
  });

  it('saveStampKey refuses an extractable private key (it could be read back by any script on the origin)', async () => {
    const refusal = await page.evaluate(async () => {
      const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
      const publicJwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
      const key = { kid: 'x', alg: 'ES256', privateKey: pair.privateKey, key: pair.privateKey, publicJwk } as never;
      return window.ipstamp.saveStampKey('extractable', key).then(
        () => 'saved',
        (error: Error) => `${error.name}: ${error.message}`,
      );
    });
    expect(refusal).toBe('TypeError: key.privateKey must be non-extractable');
  });

  it('a record in the key store that is not a saved key reads as a corrupt StampKeyStoreError, not as a key', async () => {
    const outcome = await page.evaluate(async () => {
      await window.ipstamp.saveStampKey('tampered', window.keys.reloaded!);
      await new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('ipstamp', 1);
        open.onerror = () => reject(open.error ?? new Error('indexedDB.open failed'));
        open.onsuccess = () => {
          const tx = open.result.transaction('keys', 'readwrite');
          tx.objectStore('keys').put({ v: 1, privateKey: 'not a key', publicJwk: window.keys.reloaded!.publicJwk }, 'tampered');
          tx.oncomplete = () => (open.result.close(), resolve());
        };
      });
      return window.ipstamp.loadSavedStampKey('tampered').then(
        () => 'loaded',
        (error: { name: string; code: string; detail: string }) => `${error.name} ${error.code} ${error.detail}`,
      );
    });
    expect(outcome).toBe('StampKeyStoreError ERR_IPSTAMP_KEY_STORE corrupt');
  });

  it('an HMAC key in a page warns once that its secret is public', async () => {
    const warnings: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'warning' && m.text().includes('HMAC')) warnings.push(m.text());
    });
    await page.evaluate(async () => {
      const secret = { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'shared', alg: 'HS256' };
      const stamper = window.ipstamp.createStamper({ key: secret, ip: '127.0.0.1' });
      await stamper.stamp({ method: 'GET', url: location.href });
      await stamper.stamp({ method: 'GET', url: location.href });
      await window.ipstamp.createStamper({ key: secret, ip: '127.0.0.1' }).stamp({ method: 'GET', url: location.href });
    });
    expect(warnings).toHaveLength(1);
  });

  it('the page logged no errors beyond the rejections the tests provoked', () => {
    const unexpected = problems.errors.filter((e) => !REJECTION_LOG.test(e));
    expect(unexpected).toEqual([]);
    expect(problems.errors.length).toBe(provokedRejections);
  });
});
