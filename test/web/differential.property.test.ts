import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import { ReplayStoreFullError, type ReplayStore } from '../../server/stores/replay-store.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { immediateVerifierOf, type Verifier } from '../../server/verify/verifier.js';
import { createWebVerifier, type WebVerifier } from '../../server/web/index.js';
import { REASONS } from '../../shared/reasons.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';
import { ticketClientOf, type TicketClient } from '../support/ticket-client.js';

/**
 * One pipeline, two platforms: for the same inputs, `createVerifier` (node:crypto, BlockList)
 * and `createWebVerifier` (WebCrypto, the pure-JavaScript CIDR list) give the same result —
 * ok, reason, status, kid, store, verdict and hints — for stamps built to reach every §5
 * failure and §7.4's tickets. The run must see every reason, or it proves too little.
 *
 * And one pipeline, two ways through it (#16): the Node verifier answers a stampless or
 * ticketless request synchronously (`immediateVerifierOf`, what the Fastify hook calls), and a
 * third verifier whose key source and store answer only with promises takes every waiting
 * branch instead. All three agree on every scenario.
 */
const NOW_S = Math.floor(Date.now() / 1000);
const NOW = NOW_S * 1000;
const API = 'https://api.example.com';
const EDGE = 'https://edge.example.com';
const CLIENT = '203.0.113.7';
const OTHER = '198.51.100.9';
const PROXY = '10.0.0.2';
const RUNS = { numRuns: 400 };

type StoreMode = 'ok' | 'down' | 'full';
/** A store each verifier owns, whose failure mode the scenario sets. */
class SwitchedStore implements ReplayStore {
  mode: StoreMode = 'ok';
  readonly #map = new MapReplayStore();
  insertIfAbsent(key: string, ttlMs: number): boolean {
    if (this.mode === 'down') throw new Error('connect ECONNREFUSED');
    if (this.mode === 'full') throw new ReplayStoreFullError();
    return this.#map.insertIfAbsent(key, ttlMs) as boolean;
  }
}

/** The same store answering through promises: every insert takes the verifier's waiting branch. */
class PromisedStore implements ReplayStore {
  readonly #inner = new SwitchedStore();
  set mode(mode: StoreMode) {
    this.#inner.mode = mode;
  }
  insertIfAbsent(key: string, ttlMs: number): Promise<boolean> {
    try {
      return Promise.resolve(this.#inner.insertIfAbsent(key, ttlMs));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }
}

interface Pair {
  node: Verifier;
  web: WebVerifier;
  /** Node, with keys and store that only ever answer with a promise. */
  waiting: Verifier;
  stores: { mode: StoreMode }[];
}

let keys: TestKeyPair[];
let allowedKey: TestKeyPair;
let issuerJwks: { keys: Record<string, unknown>[] };
let ticketClients: TicketClient[];
const pairs = new Map<string, Pair>();

beforeAll(async () => {
  keys = await Promise.all((['HS256', 'HS512', 'ES256', 'ES384', 'EdDSA'] as const).map((alg) => makeKey(alg, `k-${alg}`)));
  const allowed = await makeKey('ES256', 'k-allowed');
  allowedKey = { ...allowed, publicJwk: { ...allowed.publicJwk, allowed_ips: ['203.0.113.0/28', '2001:db8::/32'] } as never };
  const issuerPair = await generateKeyPair('ES256', { extractable: true });
  const issuer = createTicketIssuer({
    key: { ...(await exportJWK(issuerPair.privateKey)), kid: 'edge-1', alg: 'ES256' },
    origin: EDGE,
    origins: [EDGE],
    replayStore: new MapReplayStore(),
    now: () => NOW,
  });
  issuerJwks = issuer.jwks as never;
  ticketClients = [];
  for (const alg of ['ES256', 'EdDSA'] as const) ticketClients.push(await ticketClientOf(issuer.issue, alg, { edge: EDGE, address: CLIENT, nowMs: NOW }));
});

const policy = fc.record({
  onMismatch: fc.constantFrom('reject', 'flag'),
  onUnverifiable: fc.constantFrom('reject', 'accept'),
  onStoreError: fc.constantFrom('reject', 'accept'),
  requireBodyDigest: fc.boolean(),
  trusted: fc.constantFrom('none', 'proxy', 'wide'),
  origins: fc.boolean(),
});
type Policy = typeof policy extends fc.Arbitrary<infer P> ? P : never;

function pairFor(p: Policy): Pair {
  const id = JSON.stringify(p);
  let pair = pairs.get(id);
  if (pair === undefined) {
    const stores = [new SwitchedStore(), new SwitchedStore(), new PromisedStore()] as const;
    const jwks = [...keys.map((k) => k.publicJwk), allowedKey.publicJwk];
    const options = (store: ReplayStore, keySet: VerifierOptions['keys'] = { keys: jwks }): VerifierOptions => ({
      keys: keySet,
      issuers: { [EDGE]: issuerJwks },
      now: () => NOW,
      replayStore: store,
      onMismatch: p.onMismatch as 'reject' | 'flag',
      onUnverifiable: p.onUnverifiable as 'reject' | 'accept',
      onStoreError: p.onStoreError as 'reject' | 'accept',
      requireBodyDigest: p.requireBodyDigest,
      trustedProxies: p.trusted === 'none' ? [] : p.trusted === 'proxy' ? ['10.0.0.0/8'] : ['0.0.0.0/0', '::/0'],
      ...(p.origins ? { origins: [API] } : {}),
    });
    const promisedKeys = (kid: string) => Promise.resolve(jwks.find((jwk) => (jwk as { kid?: string }).kid === kid) as never);
    pair = {
      node: createVerifierCore(options(stores[0])),
      web: createWebVerifier(options(stores[1])),
      waiting: createVerifierCore(options(stores[2], promisedKeys)),
      stores: [...stores],
    };
    pairs.set(id, pair);
  }
  return pair;
}

const MUTATIONS = [
  'none',
  'no-stamp',
  'garbage',
  'two-stamps',
  'alg-none',
  'crit',
  'wrong-typ',
  'unknown-kid',
  'alg-swap',
  'flip-signature',
  'flip-payload',
  'no-ip',
  'noncanonical-ip',
  'exp-before-iat',
  'tth-without-ticket',
  'future',
  'old',
  'wrong-method',
  'wrong-path',
  'wrong-host',
  'body-digest',
  'wrong-digest',
  'replay',
  'other-ip',
  'allowed-key',
  'allowed-key-outside',
  'ticket',
  'ticket-tampered',
  'ticket-wrong-tth',
  'ticket-wrong-kid',
  'ticket-other-ip',
] as const;

const scenario = fc.record({
  policy,
  // the happy paths weighted up: every later check is reached only through them
  mutation: fc.oneof({ arbitrary: fc.constantFrom(...MUTATIONS), weight: 4 }, { arbitrary: fc.constantFrom('none', 'ticket'), weight: 1 }),
  key: fc.nat({ max: 4 }),
  ticketClient: fc.nat({ max: 1 }),
  l3: fc.constantFrom<string | null | undefined>(CLIENT, OTHER, PROXY, `::ffff:${CLIENT}`, `${CLIENT}:5000`, null, undefined, '0.0.0.0', '::', '0.0.0.0:0'),
  xff: fc.option(fc.constantFrom(CLIENT, OTHER, `${OTHER}, ${CLIENT}`, 'unknown', '2001:db8::7'), { nil: undefined }),
  ip: fc.constantFrom(CLIENT, '203.0.113.200', '2001:db8::7'),
  store: fc.constantFrom<StoreMode>('ok', 'ok', 'ok', 'down', 'full'),
  required: fc.boolean(),
  iatOffset: fc.integer({ min: -45, max: 10 }),
  exp: fc.option(fc.integer({ min: -40, max: 40 }), { nil: undefined }),
  flipAt: fc.nat(),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('base64url');

function flip(text: string, at: number): string {
  const i = at % text.length;
  const c = text[i] === 'A' ? 'B' : 'A';
  return `${text.slice(0, i)}${c}${text.slice(i + 1)}`;
}

/** The request a scenario describes, and whether it is sent twice. */
function inputOf(s: Scenario): { input: VerifyInput; twice: boolean } {
  const m = s.mutation;
  const ticketed = m.startsWith('ticket');
  const client = ticketClients[s.ticketClient]!;
  const key = m.startsWith('allowed-key') ? allowedKey : keys[s.key]!;
  const body = m === 'body-digest' || m === 'wrong-digest' || s.policy.requireBodyDigest ? new TextEncoder().encode('{"amount":1}') : undefined;
  const claims: Record<string, unknown> = {
    ip: m === 'ticket-other-ip' || m === 'allowed-key-outside' ? OTHER : ticketed ? CLIENT : s.ip,
    iat: NOW_S + (m === 'future' ? 60 : m === 'old' ? -120 : s.iatOffset),
    jti: `jti-${Math.random().toString(36).slice(2)}-${'x'.repeat(16)}`,
    htm: m === 'wrong-method' ? 'PUT' : 'POST',
    htu: `${API}${m === 'wrong-path' ? '/other' : '/orders'}`,
  };
  if (s.exp !== undefined) claims.exp = (claims.iat as number) + s.exp;
  if (m === 'exp-before-iat') claims.exp = (claims.iat as number) - 1;
  if (m === 'no-ip') delete claims.ip;
  if (m === 'noncanonical-ip') claims.ip = '203.0.113.007';
  if (m === 'tth-without-ticket') claims.tth = sha256('x');
  if (body !== undefined) claims.cdg = m === 'wrong-digest' ? sha256('other') : sha256(body);
  if (ticketed) claims.tth = m === 'ticket-wrong-tth' ? sha256('x') : sha256(client.ticket);
  const alg = ticketed ? client.alg : key.alg;
  const header: Record<string, unknown> = {
    alg: m === 'alg-none' ? 'none' : alg,
    typ: m === 'wrong-typ' ? 'JWT' : 'ipstamp+jwt',
    kid: ticketed ? client.kid : key.kid,
  };
  if (m === 'crit') header.crit = ['exp'];
  if (m === 'unknown-kid' || m === 'ticket-wrong-kid') header.kid = 'nobody';
  if (m === 'alg-swap') header.alg = alg === 'HS256' ? 'HS512' : alg === 'ES256' ? 'ES384' : 'HS256';
  let token = signRaw(ticketed ? client.privateJwk : key.privateJwk, header, claims, ticketed ? client.alg : key.alg);
  const [h, p, sig] = token.split('.') as [string, string, string];
  if (m === 'flip-signature') token = `${h}.${p}.${flip(sig, s.flipAt)}`;
  if (m === 'flip-payload') token = `${h}.${flip(p, s.flipAt)}.${sig}`;
  if (m === 'garbage') token = flip('not a stamp at all', s.flipAt);
  const headers: Record<string, string | string[]> = { host: m === 'wrong-host' ? 'evil.example.com' : 'api.example.com' };
  if (m !== 'no-stamp') headers['client-ip-attestation'] = m === 'two-stamps' ? [token, token] : token;
  if (ticketed) headers['client-ip-ticket'] = m === 'ticket-tampered' ? flip(client.ticket, s.flipAt) : client.ticket;
  if (s.xff !== undefined) headers['x-forwarded-for'] = s.xff;
  return {
    input: { method: 'POST', url: '/orders', headers, body, protocol: 'https', hints: { l3: s.l3 }, required: s.required },
    twice: m === 'replay',
  };
}

/** Everything a caller can read of a result, but the error object's identity. */
function view(r: VerifyResult): unknown {
  if (r.ok) return { ok: true, verdict: r.verdict, hints: r.hints };
  return { ok: false, reason: r.reason, status: r.status, kid: r.kid, store: r.store, hints: r.hints, code: r.error.code, name: r.error.name };
}

/** Runs one scenario through both verifiers, asserts they agree, and names what they answered. */
async function compare(s: Scenario, seen: Set<string>): Promise<void> {
  const pair = pairFor(s.policy);
  for (const store of pair.stores) store.mode = s.store;
  const { input, twice } = inputOf(s);
  for (let round = 0; round < (twice ? 2 : 1); round++) {
    const outcome = immediateVerifierOf(pair.node)(input);
    // only a ticket makes the Node verifier wait (its issuer keys may be fetched)
    expect(outcome instanceof Promise).toBe(input.headers['client-ip-ticket'] !== undefined && input.headers['client-ip-attestation'] !== undefined);
    const node = await outcome;
    const web = await pair.web.verifyInput(input);
    const waiting = await pair.waiting.verify(input);
    expect(view(web)).toEqual(view(node));
    expect(view(waiting)).toEqual(view(node));
    seen.add(node.ok ? (node.verdict === null ? 'none' : `ok-${node.verdict.source}`) : node.reason);
  }
}

/** A scenario every check passes, for the sweep to change one thing of. */
const FRIENDLY: Scenario = {
  policy: { onMismatch: 'reject', onUnverifiable: 'reject', onStoreError: 'reject', requireBodyDigest: false, trusted: 'none', origins: false },
  mutation: 'none',
  key: 0,
  ticketClient: 0,
  l3: CLIENT,
  xff: undefined,
  ip: CLIENT,
  store: 'ok',
  required: true,
  iatOffset: 0,
  exp: undefined,
  flipAt: 7,
};

describe('createVerifier, createWebVerifier and a verifier that waits at every step agree', () => {
  const seen = new Set<string>();

  it('on each failure reached from a passing request: every mutation, key, store failure and unknown peer', async () => {
    for (const mutation of MUTATIONS) {
      for (let key = 0; key < 5; key++) await compare({ ...FRIENDLY, mutation, key, ticketClient: key % 2 }, seen);
    }
    for (const store of ['down', 'full'] as const) await compare({ ...FRIENDLY, store }, seen);
    for (const l3 of [null, undefined, '0.0.0.0', '::', '0.0.0.0:0', OTHER]) await compare({ ...FRIENDLY, l3 }, seen);
    await compare({ ...FRIENDLY, mutation: 'no-stamp', required: false }, seen);
  });

  it('on random requests, policies, peers, forwarding headers and store failures', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => compare(s, seen)),
      RUNS,
    );
  });

  it('the two runs above reached every reason, an accepted stamp and an accepted ticket (else they prove too little)', () => {
    expect([...REASONS].filter((reason) => !seen.has(reason))).toEqual([]);
    expect([...seen]).toEqual(expect.arrayContaining(['ok-stamp', 'ok-ticket', 'none']));
  });
});
