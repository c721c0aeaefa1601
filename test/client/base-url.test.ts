import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStampedFetch } from '../../client/index.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

/**
 * A page's fetch resolves a relative URL against the document's base URL, which a
 * `<base href>` moves off the page's location. The stamp must name the URL the request goes
 * to: the SDK resolves it the same way and calls fetch with the absolute URL it signed.
 * `location` and `document` are stubbed as a page would have them; the fetch records its calls.
 */

interface Call {
  url: unknown;
  htu: unknown;
}

let key: TestKeyPair;
beforeAll(async () => {
  key = await makeKey('ES256');
});
afterEach(() => {
  vi.unstubAllGlobals();
});

function claimsOf(token: string | null): Record<string, unknown> | undefined {
  const text = token === null ? undefined : decodeBase64urlText(token.split('.')[1] ?? '');
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/** A fetch that answers every request (the echo with `ip`) and records the URL it was called with. */
function recordingFetch(calls: Call[]) {
  return (input: unknown, init?: RequestInit): Promise<Response> => {
    const token = new Headers(init?.headers).get('client-ip-attestation');
    calls.push({ url: input, htu: claimsOf(token)?.htu });
    const echo = String(input).endsWith('/.well-known/ipstamp');
    return Promise.resolve(echo ? Response.json({ ip: '192.0.2.1' }) : new Response('ok'));
  };
}

function inPage(href: string, baseURI: string): void {
  vi.stubGlobal('location', { href, origin: new URL(href).origin });
  vi.stubGlobal('document', { baseURI });
}

describe('createStampedFetch: relative URLs in a page with <base href>', () => {
  it('resolves against document.baseURI and calls fetch with the URL the stamp is signed for', async () => {
    inPage('https://app.example.com/shop/cart', 'https://static.example.net/');
    const calls: Call[] = [];
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '192.0.2.1', fetch: recordingFetch(calls) });
    expect((await stampedFetch('api/orders', { method: 'POST', body: 'x' })).status).toBe(200);
    expect(calls).toEqual([{ url: 'https://static.example.net/api/orders', htu: 'https://static.example.net/api/orders' }]);
  });

  it("ip: 'echo' asks the origin the request goes to, not the page's", async () => {
    inPage('https://app.example.com/shop/cart', 'https://static.example.net/base/');
    const calls: Call[] = [];
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch: recordingFetch(calls) });
    await stampedFetch('../api/orders?id=1');
    expect(calls.map((c) => c.url)).toEqual(['https://static.example.net/.well-known/ipstamp', 'https://static.example.net/api/orders?id=1']);
    expect(calls[1]!.htu).toBe('https://static.example.net/api/orders');
  });

  it('a URL object and an absolute string are passed on as the same absolute URL; without a document, location is the base (a worker)', async () => {
    vi.stubGlobal('location', { href: 'https://worker.example.org/js/w.js', origin: 'https://worker.example.org' });
    const calls: Call[] = [];
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '192.0.2.1', fetch: recordingFetch(calls) });
    await stampedFetch('orders');
    await stampedFetch(new URL('https://api.example.org/a?b=1#frag'));
    expect(calls.map((c) => [c.url, c.htu])).toEqual([
      ['https://worker.example.org/js/orders', 'https://worker.example.org/js/orders'],
      ['https://api.example.org/a?b=1#frag', 'https://api.example.org/a'],
    ]);
  });
});
