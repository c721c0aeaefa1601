import { describe, expect, it } from 'vitest';
import { createStampedFetch } from '../../client/index.js';
import { ipstampInterceptor } from '../../client/index.node.js';
import { makeKey } from '../support/keys.js';

// createStampedFetch with a fetch of the test's own: every request it makes is seen, and the
// order in which answers arrive is the test's to choose.

const API = 'https://api.test';

function claimsOf(init: RequestInit | undefined): Record<string, unknown> {
  const token = new Headers(init?.headers).get('client-ip-attestation')!;
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function ipMismatch(): Response {
  return new Response(JSON.stringify({ type: 'about:blank', status: 403, reason: 'ip-mismatch' }), {
    status: 403,
    headers: { 'content-type': 'application/problem+json' },
  });
}

describe('ip-mismatch: one refresh serves every request refused for the same address', () => {
  it('a refusal that arrives after the address was already learned again reuses the new address: no second echo', async () => {
    const key = await makeKey('ES256');
    const echoed = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
    let echoes = 0;
    let releaseB!: () => void;
    const bRefused = new Promise<void>((resolve) => (releaseB = resolve));
    const sent: { path: string; ip: unknown }[] = [];
    const fetch = async (input: string, init?: RequestInit): Promise<Response> => {
      const url = new URL(input);
      if (url.pathname === '/.well-known/ipstamp') {
        return new Response(JSON.stringify({ ip: echoed[Math.min(echoes++, echoed.length - 1)] }), { headers: { 'content-type': 'application/json' } });
      }
      const { ip } = claimsOf(init);
      sent.push({ path: url.pathname, ip });
      if (ip !== '192.0.2.1') return new Response('ok');
      // B's refusal is held back until A has been refused, has learned the new address and has been accepted.
      if (url.pathname === '/b') await bRefused;
      return ipMismatch();
    };
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo', fetch });
    const a = stampedFetch(`${API}/a`);
    const b = stampedFetch(`${API}/b`);
    expect((await a).status).toBe(200);
    expect(echoes).toBe(2);
    releaseB();
    expect((await b).status).toBe(200);
    // B was refused for 192.0.2.1, which the cache no longer holds: it keeps 192.0.2.2 instead of asking again.
    expect(echoes).toBe(2);
    expect(sent.filter((s) => s.path === '/b').map((s) => s.ip)).toEqual(['192.0.2.1', '192.0.2.2']);
  });
});

describe('redirects are followed the way fetch follows them', () => {
  it('a HEAD answered 303 stays a HEAD (Fetch: only methods other than GET and HEAD become GET), and its stamp says HEAD', async () => {
    const key = await makeKey('ES256');
    const hops: { method: unknown; htm: unknown; url: string }[] = [];
    const fetch = async (input: string, init?: RequestInit): Promise<Response> => {
      hops.push({ method: init?.method, htm: claimsOf(init).htm, url: input });
      return hops.length === 1 ? new Response(null, { status: 303, headers: { location: '/final' } }) : new Response(null, { status: 200 });
    };
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch });
    expect((await stampedFetch(`${API}/start`, { method: 'HEAD' })).status).toBe(200);
    expect(hops).toEqual([
      { method: 'HEAD', htm: 'HEAD', url: `${API}/start` },
      { method: 'HEAD', htm: 'HEAD', url: `${API}/final` },
    ]);
  });
});

describe('wrong options fail at setup, naming the option (docs/client.md)', () => {
  it('issuer without ip: "ticket" is refused, not silently ignored', async () => {
    const key = await makeKey('ES256');
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', issuer: 'https://edge.test' })).toThrow(TypeError);
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: 'echo', issuer: 'https://edge.test' })).toThrow(/issuer/);
  });

  it('a bodyDigest that is not a boolean is refused by createStampedFetch and the interceptor, not read as true or false', async () => {
    const key = await makeKey('ES256');
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: 'true' })).toThrow(/bodyDigest/);
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => ipstampInterceptor({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: 1 })).toThrow(/bodyDigest/);
  });
});
