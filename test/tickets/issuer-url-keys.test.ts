import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import { KeySetFetchError } from '../../server/verify/key-set-fetches.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { listenOnFreePort } from '../support/ports.js';

/**
 * An issuer's JWK Set fetched from its URL (review of 2026-12-06): a small-order Ed25519 key
 * there was taken as is, where the same set given inline is refused at setup; and while the
 * URL failed with jose's copy stale, every ticket — a forged one too — sent a fetch. Review 36:
 * with jose's copy fresh but out of its 30 s cooldown, the same (a failed fetch moved no clock),
 * and on Workers / Vercel Edge, where jose shares no fetch in flight, one per concurrent ticket;
 * and a key without alg was used for any alg its kty fits (§2.3 and §7.4 (4) pin every key's).
 */
const ISS = 'https://issuer.example';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const IDENTITY_X = Buffer.from(`01${'00'.repeat(31)}`, 'hex').toString('base64url');

let published: () => { status: number; body: unknown } = () => ({ status: 200, body: { keys: [] } });
let fetches = 0;
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((_req, res) => {
    fetches++;
    const { status, body } = published();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  url = `http://127.0.0.1:${await listenOnFreePort(server)}/jwks`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const CLIENT_X = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
let ticketSerial = 0;

/** A ticket's first two parts; each call's text differs (jti), so no ticket is answered from the verifier's cache. */
function unsignedTicket(kid: string, alg: 'EdDSA' | 'ES256' = 'EdDSA'): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: ISS,
    ip: '203.0.113.9',
    iat: now,
    exp: now + 300,
    jti: Buffer.from(`jti-${String(++ticketSerial).padStart(12, '0')}`).toString('base64url'),
    cnf: { jwk: { kty: 'OKP', crv: 'Ed25519', x: CLIENT_X } },
  };
  return `${b64({ alg, typ: 'ipstamp-ticket+jwt', kid })}.${b64(claims)}`;
}

/** A ticket whose signature is R = the identity point, S = 0: what verifies under a small-order key. */
function trivialTicket(kid: string, alg: 'EdDSA' | 'ES256' = 'EdDSA'): string {
  const signature = Buffer.concat([Buffer.from(IDENTITY_X, 'base64url'), Buffer.alloc(32)]).toString('base64url');
  return `${unsignedTicket(kid, alg)}.${signature}`;
}

/** A ticket the issuer's Ed25519 key signed. */
function signedTicket(issuerKey: KeyObject, kid: string): string {
  const text = unsignedTicket(kid);
  return `${text}.${sign(null, Buffer.from(text), issuerKey).toString('base64url')}`;
}

const issuerSet = (publicKey: KeyObject) => ({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'iss-1', alg: 'EdDSA' }] });

describe('issuer keys fetched from a URL', () => {
  it('a small-order Ed25519 key in the set verifies no ticket (inline, the same set is refused at setup)', async () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: IDENTITY_X, kid: 'iss-small', alg: 'EdDSA' }] };
    published = () => ({ status: 200, body: jwks });
    expect(() => createTicketVerifier({ [ISS]: jwks }, 5, nodePlatform)).toThrow(/small order/);
    const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
    expect(await verify(trivialTicket('iss-small'), Date.now())).toBeUndefined();
  });

  it('a key without alg in the set verifies no ticket, where a key with alg beside it does (inline, an alg-less key is refused at setup)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const withoutAlg = { ...publicKey.export({ format: 'jwk' }), kid: 'iss-bare' };
    const jwks = { keys: [withoutAlg, ...issuerSet(publicKey).keys] };
    published = () => ({ status: 200, body: jwks });
    expect(() => createTicketVerifier({ [ISS]: { keys: [withoutAlg] } }, 5, nodePlatform)).toThrow(/alg/);
    const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
    expect(await verify(signedTicket(privateKey, 'iss-bare'), Date.now())).toBeUndefined();
    expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toBeDefined();
  });

  it('while the URL fails and the copy is stale, forged tickets send one fetch per cooldown, not one each', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    published = () => ({ status: 200, body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'iss-1', alg: 'EdDSA' }] } });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
      await verify(trivialTicket('iss-1'), Date.now()); // loads the set
      published = () => ({ status: 500, body: {} });
      vi.advanceTimersByTime(601_000); // jose's copy is stale now
      const before = fetches;
      for (let i = 0; i < 20; i++) expect(await verify(trivialTicket('iss-1'), Date.now())).toBeUndefined();
      expect(fetches - before).toBe(1);
      vi.advanceTimersByTime(31_000);
      for (let i = 0; i < 5; i++) await verify(trivialTicket('iss-1'), Date.now());
      expect(fetches - before).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('while the URL fails and the copy is fresh but out of its cooldown, unknown kids send one fetch per cooldown; the keys held still verify', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    published = () => ({ status: 200, body: issuerSet(publicKey) });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS }); // loads the set
      const loaded = fetches;
      published = () => ({ status: 503, body: {} });
      vi.advanceTimersByTime(31_000); // jose's copy is fresh (under 10 min) and out of its 30 s cooldown
      // made-up kids, and the held kid under an alg its key does not fit (no key matches either)
      for (let i = 0; i < 40; i++) {
        expect(await verify(trivialTicket(`forged-${i}`), Date.now())).toBeUndefined();
        expect(await verify(trivialTicket('iss-1', 'ES256'), Date.now())).toBeUndefined();
      }
      expect(fetches - loaded).toBe(1);
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      vi.advanceTimersByTime(29_000); // 29 s after the failed fetch
      for (let i = 0; i < 10; i++) expect(await verify(trivialTicket(`later-${i}`), Date.now())).toBeUndefined();
      expect(fetches - loaded).toBe(1);
      vi.advanceTimersByTime(2_000); // 31 s after it
      for (let i = 0; i < 10; i++) expect(await verify(trivialTicket(`again-${i}`), Date.now())).toBeUndefined();
      expect(fetches - loaded).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  // jose's isCloudflareWorkers(): with WebSocketPair defined it drops a fetch in flight and starts another
  it('where jose shares no fetch in flight (WebSocketPair defined, as on Workers), 200 concurrent unknown kids send one fetch, the URL up or down', async () => {
    const globals = globalThis as Record<string, unknown>;
    const hadPair = Object.hasOwn(globals, 'WebSocketPair');
    const pair = globals.WebSocketPair;
    globals.WebSocketPair = class {};
    const { publicKey } = generateKeyPairSync('ed25519');
    published = () => ({ status: 200, body: issuerSet(publicKey) });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform);
      const flood = async (label: string): Promise<number> => {
        const before = fetches;
        const verdicts = await Promise.all(Array.from({ length: 200 }, (_, i) => verify(trivialTicket(`${label}-${i}`), Date.now())));
        expect(verdicts.every((verdict) => verdict === undefined)).toBe(true);
        return fetches - before;
      };
      expect(await flood('first')).toBe(1); // nothing loaded yet
      vi.advanceTimersByTime(31_000);
      expect(await flood('healthy')).toBe(1); // fresh, out of its cooldown, the URL answering
      published = () => ({ status: 503, body: {} });
      vi.advanceTimersByTime(31_000);
      expect(await flood('failing')).toBe(1);
      expect(await flood('failing-again')).toBe(0); // within 30 s of the failed fetch
    } finally {
      vi.useRealTimers();
      if (hadPair) globals.WebSocketPair = pair;
      else delete globals.WebSocketPair;
    }
  });

  describe('what is not used, and why, is told to onIssuerKeysError', () => {
    /** A verifier of the URL's issuer whose reports are collected. */
    function reportingVerifier(source = url) {
      const reports: KeySetFetchError[] = [];
      const verify = createTicketVerifier({ [ISS]: source }, 5, nodePlatform, (error) => reports.push(error));
      return { verify, reports };
    }

    it('a published private key signs no ticket (anyone who fetched it could), and the report names it', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const leaked = { ...privateKey.export({ format: 'jwk' }), kid: 'iss-leaked', alg: 'EdDSA' };
      published = () => ({ status: 200, body: { keys: [leaked, ...issuerSet(publicKey).keys] } });
      const { verify, reports } = reportingVerifier();
      expect(await verify(signedTicket(privateKey, 'iss-leaked'), Date.now())).toBeUndefined();
      // the same key published as public only verifies: what was refused is the private member
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      expect(reports).toHaveLength(1);
      const [report] = reports;
      expect(report).toBeInstanceOf(KeySetFetchError);
      expect(report).toMatchObject({ code: 'ERR_IPSTAMP_KEYS_INVALID', issuer: ISS });
      expect(report!.message).toBe(
        `issuers["${ISS}"] ${url}: keys[0] (kid "iss-leaked"): publishes a private key (it has "d"): anyone can sign with it, so it is not used; using the other 1 key`,
      );
      expect(report!.message).not.toContain(String(leaked.d));
    });

    it('every key left out is named with its reason, in the order of the set; the rest verify', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const jwk = publicKey.export({ format: 'jwk' });
      const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      published = () => ({
        status: 200,
        body: {
          keys: [
            { ...jwk, kid: 'no-alg' },
            { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'secret', alg: 'HS256' },
            { ...jwk, kid: 'stamp-alg', alg: 'Ed25519' },
            { ...jwk, kid: 'enc', alg: 'EdDSA', use: 'enc' },
            { ...jwk, kid: 'twice', alg: 'EdDSA' },
            { ...other, kid: 'twice', alg: 'EdDSA' },
            { ...jwk, kid: 'iss-1', alg: 'EdDSA' },
          ],
        },
      });
      const { verify, reports } = reportingVerifier();
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      for (const kid of ['no-alg', 'stamp-alg', 'enc', 'twice']) expect(await verify(signedTicket(privateKey, kid), Date.now())).toBeUndefined();
      expect(reports.map((r) => r.code)).toEqual(['ERR_IPSTAMP_KEYS_INVALID']);
      const reasons = reports[0]!.message.slice(`issuers["${ISS}"] ${url}: `.length).split('; ');
      expect(reasons).toEqual([
        `keys[0] (kid "no-alg"): has no "alg": the set must pin each key's alg`,
        `keys[1] (kid "secret"): publishes a secret (kty "oct"): tickets are signed with ES256 or EdDSA`,
        `keys[2] (kid "stamp-alg"): alg must be one of ES256, EdDSA for a ticket key`,
        expect.stringMatching(/^keys\[3\] \(kid "enc"\): use must be "sig"/),
        `keys[5] (kid "twice"): its kid is named more than once, so no key of that kid is used`,
        'using the other 1 key',
      ]);
    });

    it('a set of many bad keys is told in one bounded line: eight named, the rest counted', async () => {
      const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      published = () => ({ status: 200, body: { keys: Array.from({ length: 5000 }, (_, i) => ({ ...jwk, kid: `k${i}` })) } });
      const { verify, reports } = reportingVerifier();
      expect(await verify(trivialTicket('k1'), Date.now())).toBeUndefined();
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toMatch(
        /keys\[7\] \(kid "k7"\): has no "alg"[^;]*; and 4992 more left out; no key of it is in use: its tickets are refused$/,
      );
      expect(reports[0]!.message.length).toBeLessThan(1000);
    });

    it('a kid named three times is not used for any of them; a long kid is cut short in the report', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const jwk = publicKey.export({ format: 'jwk' });
      const other = () => generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      published = () => ({
        status: 200,
        body: {
          keys: [
            { ...other(), kid: 'thrice', alg: 'EdDSA' },
            { ...other(), kid: 'thrice', alg: 'EdDSA' },
            { ...jwk, kid: 'thrice', alg: 'EdDSA' },
            { ...jwk, kid: 'x'.repeat(1000) },
            { ...jwk, kid: 'iss-1', alg: 'EdDSA' },
          ],
        },
      });
      const { verify, reports } = reportingVerifier();
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      expect(await verify(signedTicket(privateKey, 'thrice'), Date.now())).toBeUndefined();
      const reasons = reports[0]!.message.slice(`issuers["${ISS}"] ${url}: `.length).split('; ');
      expect(reasons).toEqual([
        `keys[1] (kid "thrice"): its kid is named more than once, so no key of that kid is used`,
        `keys[2] (kid "thrice"): its kid is named more than once, so no key of that kid is used`,
        `keys[3] (kid "${'x'.repeat(128)}"): has no "alg": the set must pin each key's alg`,
        'using the other 1 key',
      ]);
    });

    it('a failed fetch of a set older than 10 min is told as leaving no key in use (a stale key verifies nothing)', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      published = () => ({ status: 200, body: issuerSet(publicKey) });
      const { verify, reports } = reportingVerifier();
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      try {
        expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
        published = () => ({ status: 503, body: {} });
        vi.advanceTimersByTime(601_000);
        expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toBeUndefined();
        expect(reports.map((r) => r.message)).toEqual([`issuers["${ISS}"] ${url}: not a 200 answer; no key of it is in use: its tickets are refused`]);
      } finally {
        vi.useRealTimers();
      }
    });

    it('eight keys left out are all named, with no count of more', async () => {
      const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      published = () => ({ status: 200, body: { keys: Array.from({ length: 8 }, (_, i) => ({ ...jwk, kid: `k${i}` })) } });
      const { verify, reports } = reportingVerifier();
      expect(await verify(trivialTicket('k1'), Date.now())).toBeUndefined();
      const reasons = reports[0]!.message.slice(`issuers["${ISS}"] ${url}: `.length).split('; ');
      expect(reasons).toHaveLength(9);
      expect(reasons.at(-2)).toMatch(/^keys\[7\] \(kid "k7"\): has no "alg"/);
      expect(reasons.at(-1)).toBe('no key of it is in use: its tickets are refused');
    });

    it('a failed fetch is told with the issuer, the URL without its query, what failed and what stays in use', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      published = () => ({ status: 503, body: {} });
      const { verify, reports } = reportingVerifier(`${url}?token=s3cret`);
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toBeUndefined();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ code: 'ERR_IPSTAMP_KEYS_FETCH', issuer: ISS });
      expect(reports[0]!.message).toBe(`issuers["${ISS}"] ${url}: not a 200 answer; no key of it is in use: its tickets are refused`);
      expect(reports[0]!.cause).toBeDefined();

      published = () => ({ status: 200, body: issuerSet(publicKey) });
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      try {
        vi.advanceTimersByTime(31_000); // past the failure's cooldown
        expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
        expect(reports).toHaveLength(1); // a good fetch with every key used is not a report
        published = () => ({ status: 200, body: 'not a set' });
        vi.advanceTimersByTime(31_000);
        expect(await verify(trivialTicket('unknown-kid'), Date.now())).toBeUndefined(); // an unknown kid fetches
        expect(reports.map((r) => r.message)).toEqual([
          expect.any(String),
          `issuers["${ISS}"] ${url}: not a JWK Set; keeping 1 key of the last good fetch until it is 10 min old`,
        ]);
        expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      } finally {
        vi.useRealTimers();
      }
    });

    it('an unreachable URL is told as such', async () => {
      const closed = createServer();
      const port = await listenOnFreePort(closed);
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const { verify, reports } = reportingVerifier(`http://127.0.0.1:${port}/jwks`);
      expect(await verify(trivialTicket('iss-1'), Date.now())).toBeUndefined();
      expect(reports.map((r) => [r.code, r.message])).toEqual([
        [
          'ERR_IPSTAMP_KEYS_FETCH',
          `issuers["${ISS}"] http://127.0.0.1:${port}/jwks: unreachable (ECONNREFUSED); no key of it is in use: its tickets are refused`,
        ],
      ]);
    });

    it('a report that throws changes nothing: the ticket is still checked, the next fetch still happens', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      published = () => ({ status: 200, body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'no-alg' }, ...issuerSet(publicKey).keys] } });
      let told = 0;
      const verify = createTicketVerifier({ [ISS]: url }, 5, nodePlatform, () => {
        told++;
        throw new Error('logger down');
      });
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      expect(told).toBe(1);
    });

    it('a set given inline is checked at setup and never told: the report is for fetched sets', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const reports: KeySetFetchError[] = [];
      const verify = createTicketVerifier({ [ISS]: issuerSet(publicKey) }, 5, nodePlatform, (error) => reports.push(error));
      expect(await verify(signedTicket(privateKey, 'iss-1'), Date.now())).toMatchObject({ iss: ISS });
      expect(await verify(signedTicket(privateKey, 'iss-2'), Date.now())).toBeUndefined();
      expect(reports).toEqual([]);
    });
  });
});
