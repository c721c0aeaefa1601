import { describe, expect, it } from 'vitest';
import { createStamper, importSigningKey } from '../../client/index.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';

// createStamper is the building block for callers who send the request themselves (their own
// HTTP client, a queue, a proxy). Unlike createStampedFetch, nothing normalizes what they pass
// before it is signed, so what the stamp claims must already be what a verifier checks.

/** One whole second, in ms: stamps are made at T + 999 ms and verified at T. */
const T = 1_800_000_000_000;

/** A verifier without clock slack (skew 0) at `T`, so an `iat` one second ahead is refused. */
function strictVerifier(key: TestKeyPair, requireBodyDigest = false) {
  return createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), skew: 0, now: () => T, requireBodyDigest });
}

function verify(verifier: ReturnType<typeof strictVerifier>, token: string, request: { method?: string; body?: Uint8Array } = {}) {
  return verifier.verify({
    method: request.method ?? 'GET',
    url: '/orders',
    headers: { host: 'api.test', 'client-ip-attestation': token },
    body: request.body ?? new Uint8Array(0),
    hints: { l3: '127.0.0.1' },
  });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('createStamper: the claims a verifier checks', () => {
  it('iat is the whole second the clock is in (floored, never rounded up): a verifier with skew 0 at that second accepts it', async () => {
    const key = await makeKey('ES256');
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', now: () => T + 999 });
    const token = await stamper.stamp({ method: 'GET', url: 'http://api.test/orders' });
    expect(claimsOf(token).iat).toBe(T / 1000);
    // A stamp dated one second ahead would be not-yet-valid for a verifier that allows no skew.
    expect(await verify(strictVerifier(key), token)).toMatchObject({ ok: true });
  });

  it('a per-request clock (what createStampedFetch passes for a server-corrected time) is floored the same way', async () => {
    const key = await makeKey('ES256');
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', now: () => 0 });
    const token = await stamper.stamp({ method: 'GET', url: 'http://api.test/orders', now: () => T + 500 });
    expect(claimsOf(token).iat).toBe(T / 1000);
    expect(await verify(strictVerifier(key), token)).toMatchObject({ ok: true });
  });

  it('htm is upper case whatever case the caller passes: fetch sends "post" as POST, and the verifier compares with POST', async () => {
    const key = await makeKey('ES256');
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', now: () => T });
    const token = await stamper.stamp({ method: 'post', url: 'http://api.test/orders' });
    expect(claimsOf(token).htm).toBe('POST');
    expect(await verify(strictVerifier(key), token, { method: 'POST' })).toMatchObject({ ok: true });
  });

  it('without bodyDigest there is no cdg: a caller who stamps without passing the body can still send one', async () => {
    const key = await makeKey('ES256');
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', now: () => T });
    const token = await stamper.stamp({ method: 'POST', url: 'http://api.test/orders' });
    expect(claimsOf(token)).not.toHaveProperty('cdg');
    expect(await verify(strictVerifier(key), token, { method: 'POST', body: new TextEncoder().encode('{"item":42}') })).toMatchObject({ ok: true });
  });
});

describe('createStamper with bodyDigest: cdg covers exactly the bytes sent, whatever form they are given in', () => {
  const bytes = new TextEncoder().encode('  {"item": 42}\n');

  it('no body (undefined, null or the empty string) is digested as zero bytes, so a verifier that requires a digest accepts it', async () => {
    const key = await makeKey('ES256');
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true, now: () => T });
    for (const body of [undefined, null, '']) {
      const token = await stamper.stamp({ method: 'GET', url: 'http://api.test/orders', body });
      expect(claimsOf(token)).toHaveProperty('cdg');
      expect(await verify(strictVerifier(key, true), token)).toMatchObject({ ok: true });
    }
  });

  for (const [name, body] of [
    ['a string (UTF-8, leading and trailing white space included)', '  {"item": 42}\n'],
    ['an ArrayBuffer', bytes.slice().buffer],
    ['a Uint8Array', bytes.slice()],
  ] as const) {
    it(`${name}: accepted for those bytes, refused for the same text trimmed`, async () => {
      const key = await makeKey('ES256');
      const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1', bodyDigest: true, now: () => T });
      const token = await stamper.stamp({ method: 'POST', url: 'http://api.test/orders', body });
      expect(await verify(strictVerifier(key, true), token, { method: 'POST', body: bytes })).toMatchObject({ ok: true });
      const trimmed = new TextEncoder().encode('{"item": 42}');
      expect(await verify(strictVerifier(key, true), token, { method: 'POST', body: trimmed })).toMatchObject({ ok: false, reason: 'binding-mismatch' });
    });
  }
});

describe('importSigningKey', () => {
  it('imports a private JWK as a non-extractable key: whoever later holds the SigningKey cannot export the private key from it', async () => {
    const key = await makeKey('ES256');
    const imported = await importSigningKey(key.privateJwk);
    expect((imported.key as CryptoKey).extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', imported.key as CryptoKey)).rejects.toThrow();
  });
});

describe('createStamper: a URL no verifier could accept', () => {
  it('refuses ws:, wss: and other schemes with a TypeError before it reads the address, and signs the http(s) form', async () => {
    const key = await makeKey('HS256');
    let addressReads = 0;
    const stamper = createStamper({ key: key.privateJwk, ip: { obs: 'static', current: () => (addressReads++, '127.0.0.1') }, now: () => T });
    const refusals: string[] = [];
    for (const url of ['ws://api.test/live', 'wss://api.test/live', 'ftp://api.test/orders', new URL('file:///etc/hosts')]) {
      await stamper.stamp({ method: 'GET', url }).then(
        () => refusals.push('signed'),
        (error: unknown) => refusals.push(error instanceof TypeError ? error.message : String(error)),
      );
    }
    expect(refusals).toEqual([
      'url must be an http: or https: URL, not ws: (sign a WebSocket handshake for its http: form)',
      'url must be an http: or https: URL, not wss: (sign a WebSocket handshake for its https: form)',
      'url must be an http: or https: URL, not ftp:',
      'url must be an http: or https: URL, not file:',
    ]);
    expect(addressReads).toBe(0);
    // the handshake's http form is what a verifier checks
    const token = await stamper.stamp({ method: 'GET', url: 'http://api.test/orders' });
    expect(claimsOf(token).htu).toBe('http://api.test/orders');
    expect(await verify(strictVerifier(key), token)).toMatchObject({ ok: true });
  });
});
