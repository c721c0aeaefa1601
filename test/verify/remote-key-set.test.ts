import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { keySetFetches } from '../../server/verify/key-set-fetches.js';
import { createRemoteKeySet, createVerifier, isKeySetFetchError, type KeySetFetchError, type RemoteKeySetOptions } from '../../server/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { listenOnFreePort } from '../support/ports.js';
import { signRaw } from '../support/sign-raw.js';
import { waitFor } from '../cli/stamped-traffic.js';
import { outcomeOf, stampedGet } from '../support/stamped-get.js';

/**
 * Issue 18, key rotation: keys from a JWK Set URL, against a real HTTP server on loopback that
 * counts what it is asked. Cooldowns are set far beyond the test's length where the test says
 * "no fetch", so a slow machine cannot make a fetch look saved.
 */
const NOW = 1_764_000_000_000;
const LONG = 3_600_000;
let oldKey: TestKeyPair;
let newKey: TestKeyPair;

/** What the JWK Set server answers: a body (status 200) or a behaviour. */
type Answer = { status?: number; body: string } | 'hang';

class JwksServer {
  fetches = 0;
  answer: Answer = { body: '{"keys":[]}' };
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;
  constructor() {
    this.#server = createServer((_req: IncomingMessage, res: ServerResponse) => {
      this.fetches++;
      const answer = this.answer;
      if (answer === 'hang') return; // never answers: the fetch must time out
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(answer.body);
    });
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
  }
  serve(set: unknown): void {
    this.answer = { body: JSON.stringify(set) };
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/jwks.json`;
  }
  async start(): Promise<void> {
    this.port = await listenOnFreePort(this.#server);
  }
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const server = new JwksServer();
beforeAll(async () => {
  oldKey = await makeKey('ES256', 'client-2025');
  newKey = await makeKey('ES256', 'client-2026');
  await server.start();
});
afterAll(() => server.close());
afterEach(() => {
  server.fetches = 0;
  server.serve({ keys: [] });
});

let n = 0;
const stampBy = (key: TestKeyPair, kid = key.kid) =>
  signRaw(
    key.privateJwk,
    { alg: key.alg, typ: 'ipstamp+jwt', kid },
    { ip: '192.0.2.7', iat: NOW / 1000, jti: `remote-${String(++n).padStart(20, '0')}`, htm: 'GET', htu: 'https://api.example.com/a' },
  );

function remoteVerifier(options: RemoteKeySetOptions = {}) {
  const errors: KeySetFetchError[] = [];
  const keys = createRemoteKeySet(server.url, { onError: (e) => errors.push(e), ...options });
  const v = createVerifier({ keys: keys.lookup, now: () => NOW });
  const verify = async (token: string) => outcomeOf(await v.verify(stampedGet(token)));
  return { keys, verify, errors };
}

describe('createRemoteKeySet', () => {
  it('fetches once at the first stamp, then answers known kids from the cache', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify, keys } = remoteVerifier({ cooldownMs: LONG });
    expect(server.fetches).toBe(0); // nothing at construction
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    for (let i = 0; i < 20; i++) expect(await verify(stampBy(oldKey))).toBe('accepted');
    expect(server.fetches).toBe(1);
    expect(keys.kids).toEqual(['client-2025']);
  });

  it('a flood of random kids costs the source nothing more within the cooldown', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify } = remoteVerifier({ cooldownMs: LONG });
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    const flood = await Promise.all(Array.from({ length: 300 }, (_, i) => verify(stampBy(oldKey, `random-${i}-${Math.random().toString(36).slice(2)}`))));
    expect(new Set(flood)).toEqual(new Set(['unknown-key']));
    for (let i = 0; i < 50; i++) expect(await verify(stampBy(oldKey, `seq-${i}`))).toBe('unknown-key');
    expect(server.fetches).toBe(1);
    expect(await verify(stampBy(oldKey))).toBe('accepted');
  });

  it('concurrent first stamps share one fetch', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify } = remoteVerifier({ cooldownMs: LONG });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => verify(stampBy(oldKey, i % 2 === 0 ? oldKey.kid : `nope-${i}`))));
    expect(answers.filter((a) => a === 'accepted')).toHaveLength(25);
    expect(answers.filter((a) => a === 'unknown-key')).toHaveLength(25);
    expect(server.fetches).toBe(1);
  });

  it('rotation at the source: the new kid is fetched once the cooldown is over, the removed kid becomes unknown', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify } = remoteVerifier({ cooldownMs: 300 });
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    server.serve({ keys: [oldKey.publicJwk, newKey.publicJwk] });
    // first the cooldown holds the fetch back (an unknown kid within 300 ms of the fetch: at
    // most this one answer can be early), then a stamp with the new kid brings the new set in
    await waitFor('the new key after the cooldown', async () => (await verify(stampBy(newKey))) === 'accepted', 10_000);
    expect(server.fetches).toBe(2);
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    server.serve({ keys: [newKey.publicJwk] });
    // a removed key is only noticed at a refetch: reload() is the operator's (SIGHUP's) way
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    await waitFor(
      'a fetch after the cooldown',
      async () => {
        await verify(stampBy(newKey, 'unknown-kid-to-trigger-a-fetch'));
        return server.fetches === 3;
      },
      10_000,
    );
    expect(await verify(stampBy(oldKey))).toBe('unknown-key');
    expect(await verify(stampBy(newKey))).toBe('accepted');
  });

  it('reload() fetches at once, whatever the cooldown, and says what changed', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify, keys } = remoteVerifier({ cooldownMs: LONG });
    expect(await keys.reload()).toEqual({ added: ['client-2025'], removed: [], changed: [], count: 1 });
    server.serve({ keys: [newKey.publicJwk] });
    expect(await keys.reload()).toEqual({ added: ['client-2026'], removed: ['client-2025'], changed: [], count: 1 });
    expect(await verify(stampBy(newKey))).toBe('accepted');
    expect(await verify(stampBy(oldKey))).toBe('unknown-key');
    expect(server.fetches).toBe(2);
  });

  describe('a failing source: the keys in use stay, unknown kids fail closed, the source is not hammered', () => {
    const failures: [string, Answer, KeySetFetchError['code'], RegExp][] = [
      ['a 500', { status: 500, body: 'oops' }, 'ERR_IPSTAMP_KEYS_FETCH', /: not a 200 answer$/],
      ['a 302', { status: 302, body: '' }, 'ERR_IPSTAMP_KEYS_FETCH', /: not a 200 answer$/],
      ['not JSON', { body: '{"keys": [' }, 'ERR_IPSTAMP_KEYS_FETCH', /: not JSON$/],
      ['not a JWK Set', { body: '{"keys": "none"}' }, 'ERR_IPSTAMP_KEYS_FETCH', /: not a JWK Set$/],
      [
        'a short HMAC secret',
        { body: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'h', alg: 'HS256' }] }) },
        'ERR_IPSTAMP_KEYS_INVALID',
        /: keys\[0\]: HMAC secret must be at least 32 bytes$/,
      ],
      ['a private key', { body: '' }, 'ERR_IPSTAMP_KEYS_INVALID', /: keys\[0\]: is a private key \(it has "d"\)/],
      ['no answer (timeout)', 'hang', 'ERR_IPSTAMP_KEYS_FETCH', /: no answer in time$/],
    ];
    it.each(failures)('%s', async (what, answer, code, message) => {
      server.serve({ keys: [oldKey.publicJwk] });
      // a short timeout only where the source hangs: a loaded machine can take 300 ms to answer on loopback
      const { verify, keys, errors } = remoteVerifier({ cooldownMs: LONG, timeoutMs: answer === 'hang' ? 300 : 10_000 });
      expect(await verify(stampBy(oldKey))).toBe('accepted');
      server.answer = what === 'a private key' ? { body: JSON.stringify({ keys: [newKey.privateJwk] }) } : answer;
      const reloaded = await keys.reload().then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(isKeySetFetchError(reloaded)).toBe(true);
      expect(reloaded).toMatchObject({ code, name: 'KeySetFetchError' });
      expect((reloaded as Error).message).toMatch(message);
      expect((reloaded as Error).message.startsWith(`${server.url}: `)).toBe(true);
      expect(errors).toEqual([reloaded]);
      expect(keys.kids).toEqual(['client-2025']);
      // old keys still verify; an unknown kid is refused without another fetch
      expect(await verify(stampBy(oldKey))).toBe('accepted');
      const fetched = server.fetches;
      const flood = await Promise.all(Array.from({ length: 100 }, (_, i) => verify(stampBy(newKey, `flood-${i}`))));
      expect(new Set(flood)).toEqual(new Set(['unknown-key']));
      expect(server.fetches).toBe(fetched);
    });

    it('a source down from the start: every stamp is unknown-key, one fetch per cooldown', async () => {
      server.answer = { status: 503, body: '' };
      const { verify, errors } = remoteVerifier({ cooldownMs: LONG });
      const answers = await Promise.all(Array.from({ length: 100 }, () => verify(stampBy(oldKey))));
      expect(new Set(answers)).toEqual(new Set(['unknown-key']));
      for (let i = 0; i < 20; i++) expect(await verify(stampBy(oldKey))).toBe('unknown-key');
      expect(server.fetches).toBe(1);
      expect(errors).toHaveLength(1);
    });

    it('after the failure cooldown it tries again, and takes the set once the source is back', async () => {
      server.answer = { status: 503, body: '' };
      const { verify } = remoteVerifier({ cooldownMs: 200 });
      expect(await verify(stampBy(oldKey))).toBe('unknown-key');
      server.serve({ keys: [oldKey.publicJwk] });
      await waitFor('the key once the source is back', async () => (await verify(stampBy(oldKey))) === 'accepted', 10_000);
      expect(server.fetches).toBe(2);
    });
  });

  it('refreshes a set older than maxAgeMs in the background, answering from the cache meanwhile', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify } = remoteVerifier({ cooldownMs: LONG, maxAgeMs: 1000 });
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    server.serve({ keys: [newKey.publicJwk] });
    // known kid: answered from the cache; once the set is stale, the same answer starts a refresh
    await waitFor(
      'a background refresh',
      async () => {
        const before = server.fetches;
        const answer = await verify(stampBy(oldKey));
        // before the refresh the cached key answers; once it is asked for, either set may
        if (before === 1) expect(answer).toBe('accepted');
        else expect(['accepted', 'unknown-key']).toContain(answer);
        return server.fetches === 2;
      },
      10_000,
    );
    await waitFor('the refreshed set', async () => (await verify(stampBy(oldKey))) === 'unknown-key', 10_000);
    expect(await verify(stampBy(newKey))).toBe('accepted');
    expect(server.fetches).toBe(2);
  });

  it('wrong options are TypeErrors naming the option', () => {
    const bad: [unknown, RemoteKeySetOptions | undefined, RegExp][] = [
      ['http://jwks.example.com/keys.json', undefined, /^url must be an https URL \(http only to a loopback address\)$/],
      ['ftp://127.0.0.1/keys', undefined, /^url must be an https URL/],
      ['https://user:pw@jwks.example.com/', undefined, /^url must be an https URL/],
      ['https://user@jwks.example.com/', undefined, /^url must be an https URL/],
      ['https://:pw@jwks.example.com/', undefined, /^url must be an https URL/],
      // loopback means the host itself, not a name that starts or ends like one
      ['http://localhost.jwks.example.com/keys.json', undefined, /^url must be an https URL/],
      ['http://notlocalhost/keys.json', undefined, /^url must be an https URL/],
      ['http://127.0.0.1.jwks.example.com/keys.json', undefined, /^url must be an https URL/],
      ['not a url', undefined, /^url must be an https URL/],
      [server.url, { cooldownMs: -1 }, /^cooldownMs must be a whole number of milliseconds from 0 to 86400000$/],
      [server.url, { maxAgeMs: 10 }, /^maxAgeMs must be a whole number of milliseconds from 1000 to/],
      [server.url, { timeoutMs: 0 }, /^timeoutMs must be a whole number of milliseconds from 1 to 60000$/],
      [server.url, { onError: 'log' as never }, /^onError must be a function$/],
      [server.url, { headers: 'x' as never }, /^headers must be an object/],
      [server.url, { cooldown: 5 } as never, /^unknown option "cooldown"/],
    ];
    for (const [url, options, message] of bad) expect(() => createRemoteKeySet(url as string, options)).toThrow(message);
    // both ends of every range are allowed
    for (const options of [
      { cooldownMs: 0, maxAgeMs: 1000, timeoutMs: 1 },
      { cooldownMs: 86_400_000, maxAgeMs: 7 * 86_400_000, timeoutMs: 60_000 },
    ]) {
      expect(createRemoteKeySet(server.url, options).url).toBe(server.url);
    }
    expect(createRemoteKeySet('https://jwks.example.com/keys.json').url).toBe('https://jwks.example.com/keys.json');
    expect(createRemoteKeySet('http://localhost:1/k').url).toBe('http://localhost:1/k');
    expect(createRemoteKeySet('http://[::1]:1/k').url).toBe('http://[::1]:1/k');
  });

  it('sends the configured headers', async () => {
    let seen: string | undefined;
    const probe = createServer((req, res) => {
      seen = req.headers.authorization;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [oldKey.publicJwk] }));
    });
    const port = await listenOnFreePort(probe);
    try {
      const keys = createRemoteKeySet(`http://127.0.0.1:${port}/k`, { headers: { authorization: 'Bearer t0k' } });
      await keys.reload();
      expect(seen).toBe('Bearer t0k');
    } finally {
      probe.closeAllConnections();
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    }
  });
});

describe('createRemoteKeySet: defaults, listeners and reload', () => {
  it('the default cooldown (30 s) holds back a fetch for an unknown kid right after the first', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify } = remoteVerifier();
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    for (let i = 0; i < 5; i++) expect(await verify(stampBy(oldKey, `unknown-${i}`))).toBe('unknown-key');
    expect(server.fetches).toBe(1);
  });

  it('a query in the URL (a token, say) is kept out of url and of every error message', async () => {
    server.answer = { status: 500, body: '' };
    const errors: KeySetFetchError[] = [];
    const keys = createRemoteKeySet(`${server.url}?token=s3cret`, { onError: (e) => errors.push(e) });
    expect(keys.url).toBe(server.url);
    await expect(keys.reload()).rejects.toThrow(`${server.url}: not a 200 answer`);
    expect(errors.map((e) => e.message)).toEqual([`${server.url}: not a 200 answer`]);
  });

  it('a throwing onError or onReload changes nothing: the failure is still a KeySetFetchError, a new set is still taken', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const throwing = () => {
      throw new Error('listener bug');
    };
    const keys = createRemoteKeySet(server.url, { cooldownMs: LONG, onError: throwing, onReload: throwing });
    expect(await keys.reload()).toEqual({ added: ['client-2025'], removed: [], changed: [], count: 1 });
    server.answer = { status: 500, body: '' };
    const failed = await keys.reload().then(
      () => 'resolved',
      (error: unknown) => error,
    );
    expect(isKeySetFetchError(failed)).toBe(true);
    expect(keys.kids).toEqual(['client-2025']);
  });

  it('reload() shares a fetch in flight, and a failed reload holds fetches for unknown kids off for the cooldown', async () => {
    server.answer = { status: 503, body: '' };
    const { keys, verify, errors } = remoteVerifier({ cooldownMs: LONG });
    const both = await Promise.allSettled([keys.reload(), keys.reload()]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(server.fetches).toBe(1);
    server.serve({ keys: [oldKey.publicJwk] });
    expect(await verify(stampBy(oldKey))).toBe('unknown-key');
    expect(server.fetches).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('a stale set whose refresh fails is refreshed again only after the cooldown, however often its keys are used', async () => {
    server.serve({ keys: [oldKey.publicJwk] });
    const { verify, errors } = remoteVerifier({ cooldownMs: LONG, maxAgeMs: 1000 });
    expect(await verify(stampBy(oldKey))).toBe('accepted');
    server.answer = { status: 503, body: '' };
    // once the set is older than maxAgeMs, a use of a known key starts one background refresh, which fails
    await waitFor('a failed background refresh', async () => (await verify(stampBy(oldKey))) === 'accepted' && errors.length === 1, 10_000);
    for (let i = 0; i < 5; i++) {
      expect(await verify(stampBy(oldKey))).toBe('accepted');
      // time for a refresh, had one been started, to reach the source and fail
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(server.fetches).toBe(2);
    expect(errors).toHaveLength(1);
  });
});

describe('keySetFetches: the failure cooldown', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds fetches off for exactly cooldownMs after a failure, and not at all with a cooldown of 0', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('down'));
    };
    const held = keySetFetches(1000, failing);
    await held.now().catch(() => undefined);
    vi.setSystemTime(NOW + 999);
    expect([held.ifDue(), held.failureCooled()]).toEqual([undefined, false]);
    vi.setSystemTime(NOW + 1000);
    expect(held.failureCooled()).toBe(true);
    await held.ifDue()?.catch(() => undefined);
    expect(calls).toBe(2);
    const none = keySetFetches(0, failing);
    await none.now().catch(() => undefined);
    expect(none.failureCooled()).toBe(true);
  });
});

describe('whatever the source answers (property)', () => {
  it('a set is taken whole or refused whole; refused, the keys in use stay and answer as before', async () => {
    const bodies = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .array(fc.oneof(fc.constantFrom<unknown>(oldKey.publicJwk, newKey.publicJwk, newKey.privateJwk), fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 })
        .map((keys) => JSON.stringify({ keys })),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        server.serve({ keys: [oldKey.publicJwk] });
        const keys = createRemoteKeySet(server.url, { cooldownMs: LONG });
        await keys.reload();
        server.answer = { body };
        const outcome = await keys.reload().then(
          (change) => change,
          (error: unknown) => error,
        );
        if (isKeySetFetchError(outcome)) {
          expect(keys.kids).toEqual(['client-2025']);
          expect(keys.lookup('client-2025')).toMatchObject({ kid: 'client-2025', alg: 'ES256' });
        } else {
          expect(outcome).not.toBeInstanceOf(Error);
          const kids = (JSON.parse(body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
          expect(keys.kids).toEqual(kids);
          // every key taken has its alg pinned by the set
          for (const kid of kids) expect(['ES256', 'ES384', 'EdDSA', 'Ed25519', 'HS256', 'HS384', 'HS512']).toContain((await keys.lookup(kid))?.alg);
        }
      }),
      { numRuns: 60 },
    );
  });
});
