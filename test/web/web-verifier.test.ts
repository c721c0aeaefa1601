import { describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { createWebVerifier, type WebVerifierOptions } from '../../server/web/index.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

/**
 * ipstamp/web end to end on Node: a web Request stamped by the client SDK, verified through
 * WebCrypto, with the connection as a runtime reports it.
 */
const API = 'https://api.example.com';
const CLIENT = '203.0.113.7';

async function setup(alg: 'HS256' | 'ES256' | 'ES384' | 'EdDSA', options: Partial<WebVerifierOptions> = {}) {
  const key = await makeKey(alg, `web-${alg}`);
  const verifier = createWebVerifier({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), ...options });
  const stamper = createStamper({ key: key.privateJwk, ip: CLIENT, bodyDigest: true });
  const request = async (init: { method?: string; path?: string; body?: string; headers?: Record<string, string> } = {}) => {
    const url = `${API}${init.path ?? '/orders?id=1'}`;
    const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
    const stamp = await stamper.stamp({ method, url, ...(init.body === undefined ? {} : { body: init.body }) });
    const headers: Record<string, string> = { 'client-ip-attestation': stamp, ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(new TextEncoder().encode(init.body).length);
    return new Request(url, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
  };
  return { verifier, request, key };
}

describe('createWebVerifier', () => {
  it.each(['HS256', 'ES256', 'ES384', 'EdDSA'] as const)('%s: accepts a stamped Request from the peer it names, refuses its replay', async (alg) => {
    const { verifier, request } = await setup(alg);
    const req = await request();
    const first = await verifier.verify(req, { l3: CLIENT });
    expect(first.ok && first.verdict).toMatchObject({ ip: CLIENT, agreement: 'match', alg, source: 'stamp' });
    const again = await verifier.verify(req, { l3: CLIENT });
    expect(again.ok ? 'accepted' : again.reason).toBe('replay');
  });

  it('a body digest is checked on a clone: the handler can still read the body', async () => {
    const { verifier, request } = await setup('HS256');
    const req = await request({ body: '{"amount":1}' });
    const result = await verifier.verify(req, { l3: CLIENT });
    expect(result.ok).toBe(true);
    expect(await req.text()).toBe('{"amount":1}');
  });

  it('a body larger than bodyLimit is not read and its cdg fails closed', async () => {
    const { verifier, request } = await setup('HS256', { bodyLimit: 4 });
    const result = await verifier.verify(await request({ body: '{"amount":1}' }), { l3: CLIENT });
    expect(result.ok ? 'accepted' : result.reason).toBe('binding-mismatch');
  });

  it('a cdg over the empty body binds an empty body only: a body not read (streamed, over the limit) is refused', async () => {
    const { verifier, key } = await setup('HS256', { bodyLimit: 8 });
    const stamper = createStamper({ key: key.privateJwk, ip: CLIENT, bodyDigest: true });
    const url = `${API}/orders`;
    const evil = '{"transfer":"all-funds","to":"mallory"}';
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(evil));
        controller.close();
      },
    });
    const headers = async () => ({ 'client-ip-attestation': await stamper.stamp({ method: 'POST', url }) });
    const streamed = new Request(url, { method: 'POST', headers: await headers(), body: stream, duplex: 'half' } as RequestInit);
    const large = new Request(url, { method: 'POST', headers: { ...(await headers()), 'content-length': String(evil.length) }, body: evil });
    const bodiless = new Request(url, { method: 'POST', headers: await headers() });
    const reasons = [];
    for (const request of [streamed, large, bodiless]) {
      const result = await verifier.verify(request, { l3: CLIENT });
      reasons.push(result.ok ? 'accepted' : result.reason);
    }
    expect(reasons).toEqual(['binding-mismatch', 'binding-mismatch', 'accepted']);
  });

  it('bodyLimit is inclusive: a body of exactly bodyLimit bytes is read; one longer than its Content-Length says is not', async () => {
    const body = '{"amount":1}';
    const { verifier, request, key } = await setup('HS256', { bodyLimit: body.length });
    const exact = await verifier.verify(await request({ body }), { l3: CLIENT });
    expect(exact.ok ? 'accepted' : exact.reason).toBe('accepted');
    // the announced length fits the limit, the body itself does not: not the body the client signed for
    const stamper = createStamper({ key: key.privateJwk, ip: CLIENT, bodyDigest: true });
    const url = `${API}/orders`;
    const longer = `${body} `;
    const headers = { 'client-ip-attestation': await stamper.stamp({ method: 'POST', url, body: longer }), 'content-length': '2' };
    const result = await verifier.verify(new Request(url, { method: 'POST', headers, body: longer }), { l3: CLIENT });
    expect(result.ok ? 'accepted' : result.reason).toBe('binding-mismatch');
  });

  it('a Content-Length that is not a plain decimal is not trusted: the body is not read and its cdg fails closed', async () => {
    const { verifier, key } = await setup('HS256');
    const stamper = createStamper({ key: key.privateJwk, ip: CLIENT, bodyDigest: true });
    const url = `${API}/orders`;
    const body = '{"amount":1}';
    const reasons = [];
    for (const length of ['1.2e1', 'twelve', '0x0c', '12.0']) {
      const headers = { 'client-ip-attestation': await stamper.stamp({ method: 'POST', url, body }), 'content-length': length };
      const result = await verifier.verify(new Request(url, { method: 'POST', headers, body }), { l3: CLIENT });
      reasons.push(result.ok ? 'accepted' : result.reason);
    }
    expect(reasons).toEqual(['binding-mismatch', 'binding-mismatch', 'binding-mismatch', 'binding-mismatch']);
  });

  it('a body that cannot be read (already read, or its stream failed) is unknown, never the empty body a cdg may name', async () => {
    const { verifier, key } = await setup('HS256');
    const stamper = createStamper({ key: key.privateJwk, ip: CLIENT, bodyDigest: true });
    const url = `${API}/orders`;
    // a cdg over the empty body: only an empty body may pass it
    const headers = async () => ({ 'client-ip-attestation': await stamper.stamp({ method: 'POST', url }), 'content-length': '5' });
    const read = new Request(url, { method: 'POST', headers: await headers(), body: 'hello' });
    await read.text();
    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error(new Error('connection reset'));
      },
    });
    const reset = new Request(url, { method: 'POST', headers: await headers(), body: failing, duplex: 'half' } as RequestInit);
    const reasons = [];
    for (const request of [read, reset]) {
      const result = await verifier.verify(request, { l3: CLIENT });
      reasons.push(result.ok ? 'accepted' : result.reason);
    }
    expect(reasons).toEqual(['binding-mismatch', 'binding-mismatch']);
  });

  it('a stamp without cdg is verified without waiting for the body: an upload still arriving holds nothing up', async () => {
    const { verifier, key } = await setup('HS256');
    const stamper = createStamper({ key: key.privateJwk, ip: CLIENT });
    const url = `${API}/orders`;
    let deliver!: () => void;
    const upload = new ReadableStream<Uint8Array>({
      start(controller) {
        deliver = () => {
          controller.enqueue(new TextEncoder().encode('hello'));
          controller.close();
        };
      },
    });
    const headers = { 'client-ip-attestation': await stamper.stamp({ method: 'POST', url }), 'content-length': '5' };
    const request = new Request(url, { method: 'POST', headers, body: upload, duplex: 'half' } as RequestInit);
    const result = await verifier.verify(request, { l3: CLIENT });
    expect(result.ok && result.verdict).toMatchObject({ ip: CLIENT });
    deliver();
    expect(await request.text()).toBe('hello');
  });

  it.each([null, undefined, '0.0.0.0', '::', '0.0.0.0:0', '[::]:0'])('an unknown peer (%s) is refused ip-unverifiable', async (l3) => {
    const { verifier, request } = await setup('HS256', { onUnverifiable: 'accept' });
    const result = await verifier.verify(await request(), { l3 });
    expect(result.ok ? 'accepted' : [result.reason, result.status]).toEqual(['ip-unverifiable', 403]);
  });

  it('another peer is ip-mismatch; a forged signature bad-signature', async () => {
    const { verifier, request } = await setup('ES256');
    const mismatch = await verifier.verify(await request(), { l3: '198.51.100.9' });
    expect(mismatch.ok ? 'accepted' : mismatch.reason).toBe('ip-mismatch');
    const good = await request();
    const stamp = good.headers.get('client-ip-attestation')!;
    const forged = `${stamp.slice(0, -4)}${stamp.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const bad = await verifier.verify(new Request(good.url, { headers: { 'client-ip-attestation': forged } }), { l3: CLIENT });
    expect(bad.ok ? 'accepted' : bad.reason).toBe('bad-signature');
  });

  it('a stamp header sent twice (Headers joins them) is malformed; no stamp is missing, or null when not required', async () => {
    const { verifier, request } = await setup('HS256');
    const req = await request();
    const stamp = req.headers.get('client-ip-attestation')!;
    const twice = new Headers();
    twice.append('client-ip-attestation', stamp);
    twice.append('client-ip-attestation', stamp);
    const doubled = await verifier.verify(new Request(req.url, { headers: twice }), { l3: CLIENT });
    expect(doubled.ok ? 'accepted' : doubled.reason).toBe('malformed');
    const bare = new Request(req.url);
    const missing = await verifier.verify(bare, { l3: CLIENT });
    expect(missing.ok ? 'accepted' : [missing.reason, missing.status]).toEqual(['missing', 401]);
    expect(await verifier.verify(bare, { l3: CLIENT }, { required: false })).toMatchObject({ ok: true, verdict: null });
  });

  it('a CORS preflight passes unverified; a missing connection is an unknown peer', async () => {
    const { verifier, request } = await setup('HS256', { onUnverifiable: 'accept' });
    const preflight = new Request(`${API}/orders`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(await verifier.verify(preflight, { l3: CLIENT })).toMatchObject({ ok: true, verdict: null });
    const result = await verifier.verify(await request(), undefined as never);
    expect(result.ok ? 'accepted' : result.reason).toBe('ip-unverifiable');
  });

  it('hints and scheme read the Request and the connection as verify does', async () => {
    const { verifier } = await setup('HS256', { trustedProxies: ['10.0.0.0/8'] });
    const req = new Request('http://api.example.com/', { headers: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'https' } });
    expect(verifier.hints(req, { l3: '10.0.0.2' })).toMatchObject({ l3: '10.0.0.2', observed: CLIENT, decidedBy: 'l7' });
    expect(verifier.scheme(req, { l3: '10.0.0.2' })).toEqual({ scheme: 'https', from: 'proto-header' });
    expect(verifier.scheme(req, { l3: CLIENT })).toEqual({ scheme: 'http', from: 'connection' });
    expect(verifier.scheme(new Request('https://api.example.com/'), { l3: CLIENT })).toEqual({ scheme: 'https', from: 'connection' });
  });

  it('options are checked at setup like the core: a wrong one throws TypeError naming it', () => {
    expect(() => createWebVerifier({ keys: { keys: [] }, maxAge: -1 })).toThrow(/^maxAge/);
    expect(() => createWebVerifier({ keys: { keys: [] }, bodyLimit: -1 })).toThrow(/^bodyLimit/);
    expect(() => createWebVerifier({ keys: { keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'k', alg: 'HS256' }] } })).toThrow(/32 bytes/);
    expect(createWebVerifier({ keys: { keys: [] } }).settings).toMatchObject({ maxAge: 30, skew: 5, bodyLimit: 1024 * 1024 });
    // 0 is a limit (read no body: every cdg on a non-empty body fails closed), not a mistake
    expect(createWebVerifier({ keys: { keys: [] }, bodyLimit: 0 }).settings.bodyLimit).toBe(0);
  });

  it('an unknown option is a TypeError naming it, as in the core', () => {
    expect(() => createWebVerifier({ keys: { keys: [] }, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    expect(() => createWebVerifier({ keys: { keys: [] }, trustedProxy: ['10.0.0.1'] } as never)).toThrow(
      new TypeError('unknown option "trustedProxy" (did you mean "trustedProxies"?)'),
    );
  });
});
