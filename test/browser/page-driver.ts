import type { Page } from 'playwright-core';
import type * as IpStampClient from '../../client/index.js';
import type { StampKey, StampKeyAlg } from '../../client/browser-key.js';

/** What the test page puts on `window` (the functions below run inside the page). */
declare global {
  interface Window {
    ipstamp: typeof IpStampClient;
    keys: Record<string, StampKey>;
  }
}

export interface PageReply {
  status: number;
  body: Record<string, unknown>;
}

export async function openTestPage(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.title === 'ready' && typeof window.ipstamp === 'object', undefined, { timeout: 10_000 });
}

/** Generates a key in the page, kept there as `window.keys[name]`; returns what the page can see of it. */
export function generateInPage(page: Page, name: string, alg: StampKeyAlg) {
  return page.evaluate(
    async ({ name, alg }) => {
      const key = await window.ipstamp.generateStampKey({ alg });
      window.keys ??= {};
      window.keys[name] = key;
      const exported = await crypto.subtle.exportKey('jwk', key.privateKey).then(
        () => 'exported',
        (error: Error) => error.name,
      );
      return {
        kid: key.kid,
        alg: key.alg,
        publicJwk: key.publicJwk as Record<string, unknown>,
        extractable: key.privateKey.extractable,
        type: key.privateKey.type,
        sameKey: key.key === key.privateKey,
        exported,
      };
    },
    { name, alg },
  );
}

/** "Login": the page sends the public JWK of `window.keys[name]` to `/register`. */
export function registerInPage(page: Page, name: string): Promise<PageReply> {
  return page.evaluate(async (name) => {
    const response = await fetch('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jwk: window.keys[name]!.publicJwk }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }, name);
}

export interface StampedCall {
  key: string;
  /** An address literal, or 'echo'. */
  ip: `${number}.${number}.${number}.${number}` | 'echo';
  method: 'GET' | 'POST';
  path: string;
  json?: unknown;
}

/** A request through `createStampedFetch` (body digest on) in the page, with `window.keys[key]`. */
export function stampedFetchInPage(page: Page, call: StampedCall): Promise<PageReply> {
  return page.evaluate(async ({ key, ip, method, path, json }) => {
    const fetchStamped = window.ipstamp.createStampedFetch({ key: window.keys[key]!, ip, bodyDigest: true });
    const init: RequestInit = { method };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await fetchStamped(path, init);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }, call);
}
