import { randomUUID } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/stamper.js';
import { createTicketRequestProof, ticketKid, type TicketKey } from '../../client/ticket-proof.js';
import { ipstamp } from '../../server/fastify/plugin.js';
import { createKeySet, createProxyProtocolServer, createTicketIssuer, createVerifier, MemoryReplayStore, type KeySet } from '../../server/index.js';
import { RedisReplayStore } from '../../server/stores/redis.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import type { VerifyResult } from '../../server/verify/types.js';
import { IpStampError } from '../../shared/errors.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { requireBinary } from '../support/binaries.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { signRaw } from '../support/sign-raw.js';
import { waitFor } from '../cli/stamped-traffic.js';
import { stampedGet } from '../support/stamped-get.js';

/**
 * Races (concurrency and lifecycle): what one verifier, issuer or app answers when
 * requests overlap a key reload, each other, or a close. Outcomes are counted, never timed; every
 * wait is bounded by a generous guard.
 */
const NOW = 1_764_000_000_000;
const GUARD_MS = 10_000;
const EDGE = 'https://edge.example.com';
const API = 'https://api.example.com';
const binary = requireBinary('redis-server');

let redis: RedisServer | undefined;
const opened: ReplayStore[] = [];
beforeAll(async () => {
  if (binary) redis = await startRedis(binary);
});
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/await-thenable -- close may answer synchronously
  await Promise.all(opened.splice(0).map((store) => store.close?.()));
  await redis?.close();
});

/** The stores every race runs on: in memory (answers at once) and Redis (answers later, a turn's inserts in one write). */
const STORES: readonly (readonly [string, () => ReplayStore])[] = [
  ['memory', () => new MemoryReplayStore()],
  ...(binary ? [['redis', () => new RedisReplayStore(redis!.url, { timeoutMs: GUARD_MS, keyPrefix: `races:${randomUUID()}:` })] as const] : []),
];
const openStore = (make: () => ReplayStore): ReplayStore => {
  const store = make();
  opened.push(store);
  return store;
};

const outcome = (r: VerifyResult | { ok: boolean; reason?: string }): string => (r.ok ? 'accepted' : r.reason!);
const tally = (answers: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const a of answers) out[a] = (out[a] ?? 0) + 1;
  return out;
};

let n = 0;
/** A stamp for GET https://api.example.com/a from 192.0.2.7, signed by `key` under the kid given. */
const stampBy = (key: TestKeyPair, kid = key.kid): string =>
  signRaw(
    key.privateJwk,
    { alg: key.alg, typ: 'ipstamp+jwt', kid },
    { ip: '192.0.2.7', iat: NOW / 1000, jti: `race-${String(++n).padStart(20, '0')}`, htm: 'GET', htu: `${API}/a` },
  );

describe('a key set reloaded while stamps are between the key lookup and the signature check', () => {
  let es: TestKeyPair;
  let es2: TestKeyPair;
  let ed: TestKeyPair;
  beforeAll(async () => {
    [es, es2, ed] = await Promise.all([makeKey('ES256', 'k'), makeKey('ES256', 'k'), makeKey('EdDSA', 'k')]);
  });

  /**
   * The key function reads the set at once (as a database lookup would) and answers when the test
   * lets it: the reload lands after every in-flight lookup and before any signature check. Each
   * request must be judged wholly by the key it looked up — its alg and its key object together
   * (key-set.ts: "a request sees the old set or the new one, never half of each").
   */
  const CASES: readonly {
    name: string;
    after: () => TestKeyPair[];
    signers: () => TestKeyPair[];
    inFlight: string[];
    afterwards: string[];
  }[] = [
    { name: 'the kid removed', after: () => [], signers: () => [es], inFlight: ['accepted'], afterwards: ['unknown-key'] },
    {
      name: 'the kid given a key of another alg (ES256 → EdDSA)',
      after: () => [ed],
      signers: () => [es, ed],
      inFlight: ['accepted', 'bad-signature'],
      afterwards: ['bad-signature', 'accepted'],
    },
    {
      name: 'the kid given another key of the same alg',
      after: () => [es2],
      signers: () => [es, es2],
      inFlight: ['accepted', 'bad-signature'],
      afterwards: ['bad-signature', 'accepted'],
    },
  ];

  it.each(CASES)('$name: in flight, judged by the old key whole; afterwards, by the new set', async ({ after, signers, inFlight, afterwards }) => {
    const set: KeySet = createKeySet({ keys: [es.publicJwk] });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    const v = createVerifier({
      keys: async (kid) => {
        const key = set.lookup(kid);
        lookups++;
        await gate;
        return key;
      },
      now: () => NOW,
      replayStore: new MemoryReplayStore(),
    });
    const verify = async (token: string) => outcome(await v.verify(stampedGet(token)));
    const ROUNDS = 20;
    const pending = Array.from({ length: ROUNDS }, () => signers().map((signer) => verify(stampBy(signer, 'k'))));
    expect(lookups).toBe(ROUNDS * signers().length); // every lookup made before the reload
    set.reload({ keys: after().map((k) => k.publicJwk) });
    release();
    const answered = await Promise.all(pending.map((round) => Promise.all(round)));
    expect(answered).toEqual(Array.from({ length: ROUNDS }, () => inFlight));
    for (let i = 0; i < 3; i++) expect(await Promise.all(signers().map((signer) => verify(stampBy(signer, 'k'))))).toEqual(afterwards);
  });
});

describe.each(STORES)('concurrent copies on the %s store', (_name, makeStore) => {
  let clientKey: TicketKey & { kid: string; privateJwk: JWK };
  let issuerJwk: JWK;
  beforeAll(async () => {
    const client = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = (await exportJWK(client.publicKey)) as ClientPublicJwk;
    clientKey = { privateKey: client.privateKey, publicJwk, alg: 'ES256', kid: await ticketKid(publicJwk), privateJwk: await exportJWK(client.privateKey) };
    const edge = await generateKeyPair('ES256', { extractable: true });
    issuerJwk = { ...(await exportJWK(edge.privateKey)), kid: 'edge-1', alg: 'ES256' };
  });

  const COPIES = 40;
  const proofInput = (proof: string) => ({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https' as const,
    headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
    hints: { l3: '127.0.0.5' },
  });

  // PROTOCOL §7.1: the issuer checks the proof's jti as a verifier checks a stamp's, and never signs without it
  it('one proof sent many times at once to the issuer: exactly one ticket', async () => {
    const issuer = createTicketIssuer({ key: issuerJwk, origin: EDGE, origins: [EDGE], replayStore: openStore(makeStore) });
    for (let round = 0; round < 3; round++) {
      const proof = await createTicketRequestProof(clientKey, `${EDGE}/.well-known/ipstamp/ticket`);
      const answers = await Promise.all(Array.from({ length: COPIES }, () => issuer.issue(proofInput(proof))));
      expect(tally(answers.map(outcome))).toEqual({ accepted: 1, replay: COPIES - 1 });
    }
  });

  // PROTOCOL §7.4: a ticket is reused for many stamps; single use is the stamp's, keyed by (thumbprint, jti)
  it('one fresh ticket first used by many stamps at once: every stamp accepted once, a copied stamp exactly once', async () => {
    const store = openStore(makeStore);
    const issuer = createTicketIssuer({ key: issuerJwk, origin: EDGE, origins: [EDGE], replayStore: new MemoryReplayStore() });
    const v = createVerifier({ keys: { keys: [] }, issuers: { [EDGE]: issuer.jwks }, replayStore: store, trustedProxies: ['127.0.0.1/32'], origins: [API] });
    const stamper = createStamper({ key: { key: clientKey.privateKey as CryptoKey, kid: clientKey.kid, alg: 'ES256' }, ip: '127.0.0.5' });
    const send = async (stamp: string, ticket: string) =>
      outcome(
        await v.verify({
          method: 'GET',
          url: '/orders',
          headers: { host: 'api.example.com', 'client-ip-attestation': stamp, 'client-ip-ticket': ticket },
          hints: { l3: '127.0.0.1' },
        }),
      );
    for (let round = 0; round < 2; round++) {
      const issued = await issuer.issue(proofInput(await createTicketRequestProof(clientKey, `${EDGE}/.well-known/ipstamp/ticket`)));
      if (!issued.ok) throw new Error(`no ticket: ${issued.reason}`);
      const { ticket } = issued;
      const tth = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(ticket))).toString('base64url');
      const stamp = () => stamper.stamp({ method: 'GET', url: `${API}/orders`, claims: { obs: 'ticket', tth } });
      // the ticket's first uses all at once (nothing cached yet): distinct stamps, and copies of one more
      const distinct = await Promise.all(Array.from({ length: COPIES }, stamp));
      const copied = await stamp();
      const answers = await Promise.all([...distinct.map((s) => send(s, ticket)), ...Array.from({ length: COPIES }, () => send(copied, ticket))]);
      expect(tally(answers.slice(0, COPIES))).toEqual({ accepted: COPIES });
      expect(tally(answers.slice(COPIES))).toEqual({ accepted: 1, replay: COPIES - 1 });
    }
  });
});

describe.skipIf(!binary)('a Redis store closed under the verifier mid-burst', () => {
  it('inserts already written are answered, none is accepted twice, and every stamp after the close is store-unavailable', async () => {
    const key = await makeKey('ES256', 'closing');
    const store = new RedisReplayStore(redis!.url, { timeoutMs: GUARD_MS, keyPrefix: `races:${randomUUID()}:` });
    const v = createVerifier({ keys: { keys: [key.publicJwk] }, now: () => NOW, replayStore: store });
    const verify = async (token: string) => outcome(await v.verify(stampedGet(token)));
    expect(await verify(stampBy(key))).toBe('accepted'); // connected
    const tokens = Array.from({ length: 30 }, () => stampBy(key));
    // one turn: 60 inserts (each stamp twice) corked into one write, then the close (QUIT behind them)
    const burst = tokens.map((t) => Promise.all([verify(t), verify(t)]));
    const closing = store.close();
    const pairs = await Promise.all(burst);
    await closing;
    // QUIT goes out behind them: each stamp once accepted, once a replay — none failed, none accepted twice
    expect(pairs.map((pair) => [...pair].sort())).toEqual(tokens.map(() => ['accepted', 'replay']));
    // fail closed from now on: stamps seen in the burst and stamps never seen alike
    const later = await Promise.all([...tokens.slice(0, 5), stampBy(key), stampBy(key)].map(verify));
    expect(tally(later)).toEqual({ 'store-unavailable': 7 });
  });
});

/** A store whose inserts wait until the test lets them go; closed, it fails those still waiting (as RedisReplayStore does). */
class GatedStore implements ReplayStore {
  readonly #seen = new Set<string>();
  readonly #waiting: (() => void)[] = [];
  #closed = false;
  get waiting(): number {
    return this.#waiting.length;
  }
  insertIfAbsent(key: string): Promise<boolean> {
    if (this.#closed) return Promise.reject(new IpStampError('store-unavailable'));
    return new Promise((resolve, reject) => {
      this.#waiting.push(() => {
        if (this.#closed) return reject(new IpStampError('store-unavailable'));
        const fresh = !this.#seen.has(key);
        this.#seen.add(key);
        resolve(fresh);
      });
    });
  }
  release(): void {
    for (const go of this.#waiting.splice(0)) go();
  }
  close(): void {
    this.#closed = true;
    this.release();
  }
}

describe('fastify.close() while requests wait on the replay store', () => {
  let key: TestKeyPair;
  beforeAll(async () => {
    key = await makeKey('ES256', 'closing-app');
  });

  /** An app with the plugin on `store`, listening; 12 requests (6 stamps, each twice) sent once it is up. */
  async function appWith(store: ReplayStore, onClose?: () => Promise<void>) {
    const app = Fastify();
    await app.register(ipstamp, { keys: { keys: [key.publicJwk] }, replayStore: store });
    let arrived = 0;
    app.addHook('onRequest', async () => void arrived++);
    app.get('/orders', async (request) => request.ipStamp);
    // the pattern docs/replay-stores.md gives for a store you pass in
    if (onClose) app.addHook('onClose', onClose);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/orders`;
    const stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' });
    const tokens = await Promise.all(Array.from({ length: 6 }, () => stamper.stamp({ method: 'GET', url })));
    const send = () =>
      Promise.all(
        tokens
          .flatMap((t) => [t, t])
          .map(async (t) => {
            const res = await fetch(url, { headers: { 'client-ip-attestation': t, connection: 'close' }, signal: AbortSignal.timeout(GUARD_MS) });
            await res.arrayBuffer();
            return String(res.status);
          }),
      );
    let closed = false;
    const close = () => {
      const closing = app.close().then(() => void (closed = true));
      // resolves by GUARD_MS either way: `closed` says whether the close finished
      return Promise.race([closing, new Promise((resolve) => setTimeout(resolve, GUARD_MS).unref())]).then(() => closed);
    };
    return { send, close, arrived: () => arrived, app };
  }

  it('a store that answers after close() began: every request answered from it, then close() resolves', async () => {
    const store = new GatedStore();
    const { send, close } = await appWith(store);
    const statuses = send();
    await waitFor('every request at the store', () => store.waiting === 12, GUARD_MS);
    const closed = close();
    await new Promise((resolve) => setImmediate(resolve));
    store.release();
    expect(tally(await statuses)).toEqual({ 200: 6, 401: 6 });
    expect(await closed).toBe(true);
  });

  it.skipIf(!binary)(
    "Redis frozen, the store closed in the app's onClose: each request gets 503 at the store's deadline, then the store closes, close() resolves",
    async () => {
      const store = new RedisReplayStore(redis!.url, { timeoutMs: 300, keyPrefix: `races:${randomUUID()}:` });
      let storeClosedAfter = -1;
      const { send, close, arrived } = await appWith(store, async () => {
        storeClosedAfter = arrived();
        await store.close();
      });
      expect(await store.insertIfAbsent(`warm ${randomUUID()}`, 60_000)).toBe(true); // connected
      redis!.pause();
      try {
        const statuses = send();
        await waitFor('every request in', () => arrived() === 12, GUARD_MS);
        const closed = close();
        expect(tally(await statuses)).toEqual({ 503: 12 });
        expect(await closed).toBe(true);
        // Fastify runs onClose once the requests in flight are answered: never a store closed under them
        expect(storeClosedAfter).toBe(12);
      } finally {
        redis!.resume();
      }
    },
  );
});

describe("the PROXY layer's server closed while a header is half-read", () => {
  it('the half-read connection is closed at the header timeout (a rejection), so close() completes; nothing is served', async () => {
    const rejected: string[] = [];
    const served: string[] = [];
    const server = createProxyProtocolServer(
      (req, res) => {
        served.push(req.url ?? '');
        res.end('ok');
      },
      { trustedProxies: ['loopback'], timeoutMs: 300, onReject: (event) => rejected.push(event.reason) },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const socketClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('PROXY TCP4 192.0.2.1 ');
    await waitFor('the connection at the server', () => new Promise((resolve) => server.getConnections((_e, count) => resolve(count === 1))), GUARD_MS);
    let closed = false;
    server.close(() => void (closed = true));
    // what Fastify's forceCloseConnections does: it reaches only connections the HTTP parser has
    server.closeAllConnections();
    await waitFor('close() to complete', () => closed, GUARD_MS);
    await socketClosed;
    expect({ rejected, served }).toEqual({ rejected: ['timeout'], served: [] });
  });
});
