import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedAddress, createStampedFetch, createStamper, IpStampClientError, perOriginAddress, type AddressSource } from '../../client/index.js';
import { createStampedFetch as createNodeStampedFetch } from '../../client/index.node.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { startVerifyingServer, type VerifyingServer } from '../support/verifying-server.js';

let key: TestKeyPair;
let server: VerifyingServer;

beforeAll(async () => {
  key = await makeKey('ES256');
  server = await startVerifyingServer({ keys: [key.publicJwk], verifier: { requireBodyDigest: false } });
});
afterAll(() => server.close());

const lastAttempt = () => server.attempts.at(-1)!;

describe('createStampedFetch (global fetch, static address)', () => {
  it('a GET carries a stamp the verifier accepts, bound to method and URL (query not part of htu)', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const response = await stampedFetch(`${server.origin}/orders?id=1`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ip: '127.0.0.1', agreement: 'match', obs: 'static', kid: key.kid });
    expect(lastAttempt().claims).toMatchObject({ htm: 'GET', htu: `${server.origin}/orders` });
  });

  it('every call gets a fresh jti', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    await stampedFetch(`${server.origin}/a`);
    await stampedFetch(`${server.origin}/a`);
    const [a, b] = server.attempts.slice(-2);
    expect(a!.result.ok && b!.result.ok).toBe(true);
    expect(a!.claims!.jti).not.toBe(b!.claims!.jti);
  });

  it("accepts a URL object and a Request, and leaves the caller's Request unread", async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    expect((await stampedFetch(new URL(`${server.origin}/u`))).status).toBe(200);
    const request = new Request(`${server.origin}/r`, { method: 'PUT', body: '{"x":1}', headers: { 'x-trace': 't1' } });
    const response = await stampedFetch(request);
    expect(response.status).toBe(200);
    expect(request.bodyUsed).toBe(false);
    expect(lastAttempt()).toMatchObject({ method: 'PUT', headers: { 'x-trace': 't1' } });
    expect(lastAttempt().claims).toHaveProperty('cdg');
  });

  it('sends the method upper case, as htm says (fetch would keep "patch" as written)', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const response = await stampedFetch(`${server.origin}/p`, { method: 'patch', body: 'x' });
    expect(response.status).toBe(200);
    expect(lastAttempt()).toMatchObject({ method: 'PATCH', claims: { htm: 'PATCH' } });
  });

  it('copies init and headers: a frozen init and a caller Headers object are left as they were', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const headers = new Headers({ 'x-a': '1' });
    const init = Object.freeze({ method: 'GET', headers });
    expect((await stampedFetch(`${server.origin}/h`, init)).status).toBe(200);
    expect(headers.get('x-a')).toBe('1');
    expect(headers.has('client-ip-attestation')).toBe(false);
    const plain = Object.freeze({ 'x-b': '2' });
    expect((await stampedFetch(`${server.origin}/h`, { headers: plain })).status).toBe(200);
    expect(plain).toEqual({ 'x-b': '2' });
    expect(lastAttempt().headers['x-b']).toBe('2');
  });

  it('replaces a stamp header the caller already set instead of sending two', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const response = await stampedFetch(`${server.origin}/dup`, { headers: { 'Client-IP-Attestation': 'stale.token.here' } });
    expect(response.status).toBe(200);
  });

  it('rejects bad options at setup with a TypeError naming the option', () => {
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: 'not-an-ip' })).toThrow(/ip must be/);
    expect(() => createStampedFetch({ key: { ...key.privateJwk, kid: '' }, ip: '127.0.0.1' })).toThrow(/key\.kid/);
    expect(() => createStampedFetch({ key: { ...key.privateJwk, alg: 'none' }, ip: '127.0.0.1' })).toThrow(/key\.alg/);
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: 'socket' })).toThrow(/client\/node/);
    // @ts-expect-error the types refuse it too; the run-time check is what is tested
    expect(() => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', echoUrl: 'http://x/' })).toThrow(/echoUrl/);
    expect(() => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch: 'no' as never })).toThrow(/fetch/);
  });

  it('rejects an unknown option at setup with a TypeError naming it (both entries)', () => {
    const options = { key: key.privateJwk, ip: '127.0.0.1' as const };
    expect(() => createStampedFetch({ ...options, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    expect(() => createStampedFetch({ ...options, bodyDigests: true } as never)).toThrow(
      new TypeError('unknown option "bodyDigests" (did you mean "bodyDigest"?)'),
    );
    expect(() => createNodeStampedFetch({ ...options, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    expect(() => createNodeStampedFetch({ ...options, ip: 'socket', socketTtl: 5 } as never)).toThrow(/^unknown option "socketTtl"/);
    expect(() => createStamper({ ...options, bodydigest: true } as never)).toThrow(new TypeError('unknown option "bodydigest" (did you mean "bodyDigest"?)'));
  });
});

describe("a custom AddressSource's obs must be one of the protocol's observation sources", () => {
  const stun: AddressSource = { obs: 'stun' as never, current: () => '127.0.0.1' };

  it('createStamper and createStampedFetch refuse obs: stun at setup, naming it (the verifier would refuse every stamp bad-claims)', () => {
    expect(() => createStamper({ key: key.privateJwk, ip: stun })).toThrow(new TypeError('ip.obs must be one of static, socket, echo, ticket'));
    expect(() => createStampedFetch({ key: key.privateJwk, ip: stun })).toThrow(new TypeError('ip.obs must be one of static, socket, echo, ticket'));
    expect(() => createNodeStampedFetch({ key: key.privateJwk, ip: stun })).toThrow(new TypeError('ip.obs must be one of static, socket, echo, ticket'));
  });

  it('cachedAddress refuses it when made', () => {
    expect(() =>
      cachedAddress(
        'stun' as never,
        async () => '127.0.0.1',
        () => new Error('x'),
        { ttlMs: 1000 },
      ),
    ).toThrow(new TypeError('obs must be one of static, socket, echo, ticket'));
  });

  it('a per-origin source, made at the first request, fails that request with the same TypeError', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: perOriginAddress(() => stun) });
    await expect(stampedFetch(`${server.origin}/orders`)).rejects.toThrow(new TypeError('ip.obs must be one of static, socket, echo, ticket'));
  });

  it('every protocol source, and a source that names none, is accepted and verifies', async () => {
    for (const obs of ['static', 'socket', 'echo', 'ticket', undefined] as const) {
      const source = { obs, current: () => '127.0.0.1' } as AddressSource;
      const response = await createStampedFetch({ key: key.privateJwk, ip: source })(`${server.origin}/orders`);
      expect(response.status, String(obs)).toBe(200);
    }
  });
});

describe('createStampedFetch with bodyDigest', () => {
  const bodies: [string, () => BodyInit][] = [
    ['string', () => '{"order":1,"note":"héllo"}'],
    ['Uint8Array', () => new Uint8Array([0, 1, 2, 255])],
    ['a Uint8Array view into a larger buffer', () => new Uint8Array(new Uint8Array([9, 9, 1, 2, 3, 9]).buffer, 2, 3)],
    ['ArrayBuffer', () => new Uint8Array([5, 6, 7]).buffer],
    ['URLSearchParams', () => new URLSearchParams({ q: 'a b&c', n: 'é' })],
    ['Blob', () => new Blob(['blob ', 'body'], { type: 'text/plain' })],
    [
      'FormData',
      () => {
        const form = new FormData();
        form.set('field', 'value');
        form.set('file', new Blob(['content']), 'f.txt');
        return form;
      },
    ],
  ];

  for (const [name, make] of bodies) {
    it(`a POST with a ${name} body is accepted by a verifier that requires the digest`, async () => {
      const strict = await startVerifyingServer({ keys: [key.publicJwk], verifier: { requireBodyDigest: true } });
      try {
        const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
        const response = await stampedFetch(`${strict.origin}/upload`, { method: 'POST', body: make() });
        expect(await response.json()).toMatchObject({ agreement: 'match' });
        expect(strict.attempts[0]!.claims).toHaveProperty('cdg');
      } finally {
        await strict.close();
      }
    });
  }

  it('a GET without body is digested as zero bytes and accepted', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    expect((await stampedFetch(`${server.origin}/empty`)).status).toBe(200);
    expect(lastAttempt().claims!.cdg).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  });

  it('a stream body fails with ERR_IPSTAMP_BODY_NOT_DIGESTIBLE before anything is sent', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true });
    const before = server.attempts.length;
    const stream = new ReadableStream({
      start: (c) => {
        c.enqueue(new Uint8Array([1]));
        c.close();
      },
    });
    const error = await stampedFetch(`${server.origin}/s`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpStampClientError);
    expect(error).toMatchObject({ code: 'ERR_IPSTAMP_BODY_NOT_DIGESTIBLE' });
    expect(server.attempts.length).toBe(before);
  });

  it('without bodyDigest, a stream body is sent as is', async () => {
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1' });
    const stream = new ReadableStream({
      start: (c) => {
        c.enqueue(new TextEncoder().encode('streamed'));
        c.close();
      },
    });
    const response = await stampedFetch(`${server.origin}/s`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(200);
    expect(lastAttempt().claims).not.toHaveProperty('cdg');
  });

  it('a digest that does not match the bytes sent is refused by the verifier (the check is real)', async () => {
    const lying = createStampedFetch({
      key: key.privateJwk,
      ip: '127.0.0.1',
      bodyDigest: true,
      // A fetch that changes the body after stamping: the verifier must notice.
      fetch: (input, init) => fetch(input, { ...init, body: 'tampered' }),
    });
    const response = await lying(`${server.origin}/t`, { method: 'POST', body: 'original' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ reason: 'binding-mismatch' });
  });
});
