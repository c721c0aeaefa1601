import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStampedFetch, generateStampKey, type StampKeyInput } from '../../client/index.js';
import { createTicketRequestProof, type TicketKey } from '../../client/ticket-proof.js';
import { createTicketIssuer } from '../../server/issuer/issuer.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { createRemoteKeySet } from '../../server/index.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { replayTtlMs } from '../../server/verify/claim-rules.js';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { waitFor } from '../cli/stamped-traffic.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { listenOnFreePort } from '../support/ports.js';
import { signRaw } from '../support/sign-raw.js';
import { outcomeOf, stampedGet } from '../support/stamped-get.js';

/**
 * Time, attacked: every part that reads a clock, with a clock that steps — an NTP
 * correction, a VM resumed after hours, a host that booted at 1970. What each must still do:
 * refuse a replay for as long as the stepped clock finds the stamp fresh (PROTOCOL §5 steps 7–8
 * and 10), check a cached ticket's time on every use (§7.4 item 6), and keep fetching a key set
 * once per cooldown — neither frozen for the length of a backward step nor in a storm after a
 * forward one (docs/verifier.md, key rotation).
 */
const T = 1_796_000_000_000; // a whole second
const MAX_AGE = 30;
const SKEW = 5;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let stampKey: TestKeyPair;
let issuerJwk: JWK;
let client: TicketKey;
beforeAll(async () => {
  stampKey = await makeKey('ES256', 'jump-es');
  const pair = await generateKeyPair('ES256', { extractable: true });
  issuerJwk = { ...(await exportJWK(pair.privateKey)), kid: 'edge-1', alg: 'ES256' };
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = (await exportJWK(publicKey)) as ClientPublicJwk;
  client = { privateKey, publicJwk, alg: 'ES256' };
});

/** A stamp with `iat` = T (s) and its own jti. */
let serial = 0;
function stampAt(iatMs: number): string {
  return signRaw(
    stampKey.privateJwk,
    { alg: 'ES256', typ: 'ipstamp+jwt', kid: stampKey.kid },
    { ip: '192.0.2.7', iat: iatMs / 1000, jti: `jump-${String(++serial).padStart(22, '0')}`, htm: 'GET', htu: 'https://api.example.com/a' },
  );
}

/**
 * A component that checks freshness and replay, on a clock the test sets, with a memory store on
 * that same clock: `first` answers a stamp or proof made at `iatMs`, `again` the same one again.
 */
interface Subject {
  readonly clock: { ms: number };
  readonly make: (iatMs: number) => Promise<string>;
  readonly send: (token: string) => Promise<string>;
}

async function verifierSubject(): Promise<Subject> {
  const clock = { ms: T };
  const store = new MemoryReplayStore({ now: () => clock.ms });
  const v = createVerifierCore({ keys: { keys: [stampKey.publicJwk] }, replayStore: store, now: () => clock.ms, maxAge: MAX_AGE, skew: SKEW });
  return {
    clock,
    make: async (iatMs) => stampAt(iatMs),
    send: async (token) => {
      return outcomeOf(await v.verify(stampedGet(token)));
    },
  };
}

/** The edge's ticket route, as the adapters call the issuer: a proof from 192.0.2.7 over https. */
function askTicket(issuer: ReturnType<typeof createTicketIssuer>, proof: string) {
  return issuer.issue({
    method: 'POST',
    url: '/.well-known/ipstamp/ticket',
    protocol: 'https',
    headers: { host: 'edge.example.com', 'client-ip-attestation': proof },
    hints: { l3: '192.0.2.7' },
  });
}

async function issuerSubject(): Promise<Subject> {
  const clock = { ms: T };
  const store = new MemoryReplayStore({ now: () => clock.ms });
  const issuer = createTicketIssuer({
    key: issuerJwk,
    origin: 'https://edge.example.com',
    replayStore: store,
    now: () => clock.ms,
    maxAge: MAX_AGE,
    skew: SKEW,
  });
  return {
    clock,
    make: (iatMs) => createTicketRequestProof(client, 'https://edge.example.com/.well-known/ipstamp/ticket', () => iatMs),
    send: async (proof) => {
      const r = await askTicket(issuer, proof);
      return r.ok ? 'accepted' : r.reason;
    },
  };
}

/** What a stamp (iat = T) used again at `ms` must get: refused whatever the clock, for the right reason. */
function expectedAt(ms: number): string {
  const now = ms / 1000;
  const iat = T / 1000;
  if (iat > now + SKEW) return 'not-yet-valid';
  if (now - iat > MAX_AGE + SKEW) return 'expired';
  return 'replay';
}

describe('a clock that steps between a first use and a replay: the replay is refused while the stepped clock finds it fresh (§5 steps 7–8, 10)', () => {
  // the instants the clock is walked through after the step: where the stamp turns fresh again, its middle, its last fresh instant, just after
  const walk = [T - SKEW * 1000, T, T + 17_500, T + (MAX_AGE + SKEW) * 1000, T + (MAX_AGE + SKEW) * 1000 + 1];
  const steps: [string, number[]][] = [
    ['back 3 s (within skew)', [T - 3000]],
    ['back 1 min', [T - 60_000]],
    ['back 1 h (a VM resumed from an old snapshot)', [T - HOUR]],
    ['back 1 day', [T - DAY]],
    ['ahead 20 s, then back', [T + 20_000, T + 1000]],
    ['ahead 1 h, then back (no insert while ahead)', [T + HOUR, T + 2000]],
    ['back and forth five times', [T - HOUR, T + 10_000, T - DAY, T + 3000, T - 60_000]],
  ];
  for (const [subjectName, subject] of [
    ['verifier', verifierSubject],
    ['ticket issuer (its proofs)', issuerSubject],
  ] as const) {
    it.each(steps)(`${subjectName}: clock %s`, async (_name, stops) => {
      const s = await subject();
      const token = await s.make(T);
      expect(await s.send(token)).toBe('accepted');
      for (const ms of [...stops, ...walk]) {
        s.clock.ms = ms;
        expect([ms - T, await s.send(token)]).toEqual([ms - T, expectedAt(ms)]);
      }
    });
  }

  it('the verifier reads its clock once per stamp: a step between freshness and the replay insert cannot shorten the TTL', async () => {
    const ttls: number[] = [];
    let reads = 0;
    const v = createVerifierCore({
      keys: { keys: [stampKey.publicJwk] },
      replayStore: { insertIfAbsent: (_key: string, ttlMs: number) => (ttls.push(ttlMs), true) },
      // the first read is T; every later one is a day ahead (past any TTL the stamp could need)
      now: () => (reads++ === 0 ? T : T + DAY),
      maxAge: MAX_AGE,
      skew: SKEW,
    });
    const r = await v.verify(stampedGet(stampAt(T)));
    expect(r.ok).toBe(true);
    expect(ttls).toEqual([replayTtlMs(T / 1000, T, { maxAge: MAX_AGE, skew: SKEW })]);
    expect(ttls[0]).toBe((MAX_AGE + 2 * SKEW + 1) * 1000);
  });
});

describe('a verified ticket is cached by its text, and its time is checked again on every use, whichever way the clock stepped (§7.4 item 6)', () => {
  it.each([
    ['ahead past exp + skew', (exp: number) => (exp + SKEW) * 1000 + 1, false],
    ['ahead a day', () => T + DAY, false],
    ['back before iat − skew', () => T - SKEW * 1000 - 1, false],
    ['back a day', () => T - DAY, false],
    ['back, to iat − skew exactly', () => T - SKEW * 1000, true],
    ['ahead, to exp + skew exactly', (exp: number) => (exp + SKEW) * 1000, true],
  ])('verified at iat, then the clock steps %s', async (_name, at, ok) => {
    const issuer = createTicketIssuer({ key: issuerJwk, origin: 'https://edge.example.com', replayStore: new MapReplayStore(), now: () => T, lifetime: 60 });
    const proof = await createTicketRequestProof(client, 'https://edge.example.com/.well-known/ipstamp/ticket', () => T);
    const issued = await askTicket(issuer, proof);
    if (!issued.ok) throw new Error(issued.reason);
    const verify = createTicketVerifier({ 'https://edge.example.com': issuer.jwks }, SKEW, nodePlatform);
    expect(await verify(issued.ticket, T)).toMatchObject({ exp: issued.exp }); // verified, and now cached
    expect(await verify(issued.ticket, at(issued.exp))).toEqual(ok ? expect.objectContaining({ exp: issued.exp }) : undefined);
    expect(await verify(issued.ticket, T + 1000)).toMatchObject({ exp: issued.exp }); // and back in its life, it passes again
  });
});

/** A JWK Set server on loopback that counts its fetches. */
let published: () => { status: number; body: unknown } = () => ({ status: 200, body: { keys: [] } });
let fetches = 0;
let jwksServer: Server;
let jwksUrl = '';
beforeAll(async () => {
  jwksServer = createServer((_req, res) => {
    fetches++;
    const { status, body } = published();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  jwksUrl = `http://127.0.0.1:${await listenOnFreePort(jwksServer)}/jwks`;
});
afterAll(async () => {
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});
afterEach(() => {
  vi.useRealTimers();
  fetches = 0;
});

describe('createRemoteKeySet under a wall clock that steps (jose and its cooldowns read Date.now: no clock can be injected)', () => {
  const COOLDOWN = 30_000;
  const MAX_AGE_MS = 60_000;

  it.each([
    ['back 1 h', -HOUR],
    ['back 1 day', -DAY],
    ['back 10 years', -3650 * DAY],
  ])('a clock stepped %s after a good fetch: a new kid is fetched one cooldown later, not after the step has been lived through', async (_name, step) => {
    vi.useFakeTimers({ toFake: ['Date'], now: T });
    const other = await makeKey('ES256', 'jump-new');
    published = () => ({ status: 200, body: { keys: [stampKey.publicJwk] } });
    const keys = createRemoteKeySet(jwksUrl, { cooldownMs: COOLDOWN, maxAgeMs: MAX_AGE_MS });
    expect(await keys.lookup(stampKey.kid)).toBeDefined();
    expect(fetches).toBe(1);
    published = () => ({ status: 200, body: { keys: [stampKey.publicJwk, other.publicJwk] } });
    vi.setSystemTime(T + step);
    vi.advanceTimersByTime(COOLDOWN);
    expect(await keys.lookup(other.kid)).toBeDefined();
    expect(fetches).toBe(2);
    // and the cooldown holds again from that fetch: a flood of unknown kids costs nothing more
    await Promise.all(Array.from({ length: 50 }, async (_, i) => keys.lookup(`forged-${i}`)));
    expect(fetches).toBe(2);
  });

  it('a clock stepped back 1 h after a failed fetch: the source is tried again one cooldown later, the step costing at most one fetch', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T });
    published = () => ({ status: 503, body: {} });
    const keys = createRemoteKeySet(jwksUrl, { cooldownMs: COOLDOWN, maxAgeMs: MAX_AGE_MS });
    expect(await keys.lookup(stampKey.kid)).toBeUndefined();
    expect(fetches).toBe(1);
    vi.setSystemTime(T - HOUR);
    // the step ends the wait: one more try, failed too, and its cooldown holds the flood off
    await Promise.all(Array.from({ length: 50 }, async (_, i) => keys.lookup(`forged-${i}`)));
    expect(fetches).toBe(2);
    published = () => ({ status: 200, body: { keys: [stampKey.publicJwk] } });
    vi.advanceTimersByTime(COOLDOWN);
    expect(await keys.lookup(stampKey.kid)).toBeDefined();
    expect(fetches).toBe(3);
  });

  it('a clock stepped back 1 h: a set older than maxAgeMs (lived, not read off the clock) is still refreshed in the background', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T });
    published = () => ({ status: 200, body: { keys: [stampKey.publicJwk] } });
    const keys = createRemoteKeySet(jwksUrl, { cooldownMs: COOLDOWN, maxAgeMs: MAX_AGE_MS });
    expect(await keys.lookup(stampKey.kid)).toBeDefined();
    vi.setSystemTime(T - HOUR);
    vi.advanceTimersByTime(MAX_AGE_MS + 1);
    published = () => ({ status: 200, body: { keys: [] } }); // the key was withdrawn at the source
    expect(await keys.lookup(stampKey.kid)).toBeDefined(); // answered from the cache meanwhile
    await waitFor('a background refresh', () => fetches === 2, 5000);
    await waitFor('the withdrawn key gone', async () => (await keys.lookup(stampKey.kid)) === undefined, 5000);
  });

  it.each([
    ['ahead 1 day', DAY],
    ['ahead 10 years', 3650 * DAY],
  ])('a clock stepped %s: a flood of lookups costs one fetch, then the cooldown holds (no fetch storm)', async (_name, step) => {
    vi.useFakeTimers({ toFake: ['Date'], now: T });
    published = () => ({ status: 200, body: { keys: [stampKey.publicJwk] } });
    const keys = createRemoteKeySet(jwksUrl, { cooldownMs: COOLDOWN, maxAgeMs: MAX_AGE_MS });
    expect(await keys.lookup(stampKey.kid)).toBeDefined();
    vi.setSystemTime(T + step);
    await Promise.all(Array.from({ length: 100 }, async (_, i) => keys.lookup(i % 2 === 0 ? stampKey.kid : `forged-${i}`)));
    await waitFor('the one refresh to settle', () => fetches === 2, 5000);
    await Promise.all(Array.from({ length: 100 }, async (_, i) => keys.lookup(`forged-again-${i}`)));
    expect(fetches).toBe(2);
  });
});

describe("a ticket issuer's JWK Set from a URL under a wall clock that steps", () => {
  const issuer = generateKeyPairSync('ed25519');
  const issuerSet = { keys: [{ ...issuer.publicKey.export({ format: 'jwk' }), kid: 'iss-1', alg: 'EdDSA' }] };
  const CLIENT_X = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  let jti = 0;
  /** A ticket iss-1 signed, alive at T; each has its own text, so none is answered from the cache. */
  const ticket = (): string => {
    const iat = T / 1000;
    const claims = {
      iss: 'https://issuer.example',
      ip: '203.0.113.9',
      iat,
      exp: iat + 300,
      jti: Buffer.from(`jti-${String(++jti).padStart(12, '0')}`).toString('base64url'),
      cnf: { jwk: { kty: 'OKP', crv: 'Ed25519', x: CLIENT_X } },
    };
    const text = `${b64({ alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: 'iss-1' })}.${b64(claims)}`;
    return `${text}.${sign(null, Buffer.from(text), issuer.privateKey).toString('base64url')}`;
  };

  it('a clock stepped back 1 h: a key the issuer retired stops verifying 10 min (lived) after the last good fetch, as documented', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T });
    published = () => ({ status: 200, body: issuerSet });
    const verify = createTicketVerifier({ 'https://issuer.example': jwksUrl }, SKEW, nodePlatform);
    expect(await verify(ticket(), T)).toBeDefined();
    published = () => ({ status: 200, body: { keys: [] } }); // retired
    vi.setSystemTime(T - HOUR);
    vi.advanceTimersByTime(601_000);
    // the ticket's own time is the verifier's `now`, unchanged: only the key set's clock stepped
    expect(await verify(ticket(), T)).toBeUndefined();
    expect(fetches).toBe(2);
  });

  it('a clock stepped ahead 1 day: a flood of tickets costs one fetch of the set', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T });
    published = () => ({ status: 200, body: issuerSet });
    const verify = createTicketVerifier({ 'https://issuer.example': jwksUrl }, SKEW, nodePlatform);
    expect(await verify(ticket(), T)).toBeDefined();
    vi.setSystemTime(T + DAY);
    const verdicts = await Promise.all(Array.from({ length: 100 }, () => verify(ticket(), T)));
    expect(verdicts.every((v) => v !== undefined)).toBe(true);
    // and one by one after it: the set fetched at the new time is fresh by it
    for (let i = 0; i < 5; i++) expect(await verify(ticket(), T)).toBeDefined();
    expect(fetches).toBe(2);
  });
});

describe('a clock that returns no number (NaN: an invalid Date, a `now` that returns undefined) fails closed, never open (§5 steps 7–8, §7.4 item 6)', () => {
  const broken: [string, () => number][] = [
    ['NaN', () => NaN],
    ['undefined', () => undefined as unknown as number],
    ['an invalid Date', () => new Date('not a date').getTime()],
  ];

  it.each(broken)('verifier on a clock returning %s, with a store that does not read the clock: a stamp from 1970 is refused', async (_name, now) => {
    const v = createVerifierCore({ keys: { keys: [stampKey.publicJwk] }, replayStore: new MapReplayStore(), now, maxAge: MAX_AGE, skew: SKEW });
    for (const iatMs of [1000, T]) {
      expect(outcomeOf(await v.verify(stampedGet(stampAt(iatMs))))).toMatch(/^(not-yet-valid|expired)$/);
    }
  });

  it.each(broken)('ticket issuer on a clock returning %s: a proof is refused, no ticket is signed', async (_name, now) => {
    const issuer = createTicketIssuer({ key: issuerJwk, origin: 'https://edge.example.com', replayStore: new MapReplayStore(), now });
    const proof = await createTicketRequestProof(client, 'https://edge.example.com/.well-known/ipstamp/ticket', () => 1000);
    const r = await askTicket(issuer, proof);
    expect(r.ok ? 'accepted' : r.reason).toMatch(/^(not-yet-valid|expired)$/);
  });

  it.each(broken)('ticket verifier at a time of %s: a ticket, cached or not, is refused', async (_name, now) => {
    const issuer = createTicketIssuer({ key: issuerJwk, origin: 'https://edge.example.com', replayStore: new MapReplayStore(), now: () => T, lifetime: 60 });
    const proof = await createTicketRequestProof(client, 'https://edge.example.com/.well-known/ipstamp/ticket', () => T);
    const issued = await askTicket(issuer, proof);
    if (!issued.ok) throw new Error(issued.reason);
    const verify = createTicketVerifier({ 'https://edge.example.com': issuer.jwks }, SKEW, nodePlatform);
    expect(await verify(issued.ticket, now())).toBeUndefined(); // not cached yet
    expect(await verify(issued.ticket, T)).toBeDefined();
    expect(await verify(issued.ticket, now())).toBeUndefined(); // cached
  });
});

describe("the client's server-clock correction under a local clock that steps (§6.1)", () => {
  /**
   * A stamped fetch on a local clock the test sets, against a verifier whose clock reads T and
   * whose refusals carry its `Date`. `during` runs while a request is at the server (a step in
   * flight). Each call answers what came back and how many requests it took.
   */
  function clientAndServer() {
    const local = { ms: T };
    let during: (() => void) | undefined;
    let sends = 0;
    const v = createVerifierCore({ keys: { keys: [stampKey.publicJwk] }, replayStore: new MapReplayStore(), now: () => T, maxAge: MAX_AGE, skew: SKEW });
    const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      sends++;
      const request = new Request(input, init);
      const r = await v.verify({
        method: request.method,
        url: new URL(request.url).pathname,
        protocol: 'https',
        headers: { host: 'api.example.com', 'client-ip-attestation': request.headers.get('client-ip-attestation') ?? undefined },
        hints: { l3: '192.0.2.7' },
      });
      during?.();
      const date = new Date(T).toUTCString();
      if (r.ok) return new Response('ok', { status: 200, headers: { date } });
      return new Response(JSON.stringify({ type: 'about:blank', status: r.status, reason: r.reason }), {
        status: r.status,
        headers: { 'content-type': 'application/problem+json', date },
      });
    };
    const stamped = createStampedFetch({ key: stampKey.privateJwk as StampKeyInput, ip: '192.0.2.7', fetch, now: () => local.ms });
    const call = async (): Promise<[number, number]> => {
      sends = 0;
      const response = await stamped('https://api.example.com/a');
      return [response.status, sends];
    };
    return { local, call, inFlight: (step: (() => void) | undefined) => (during = step) };
  }

  it('a correction learned, then the local clock set right (or wrong again): one refused request each time, retried and accepted; beyond the bound, nothing learned', async () => {
    const { local, call } = clientAndServer();
    const script: [string, number, [number, number]][] = [
      ['2 min slow: refused expired, learned, retried', T - 120_000, [200, 2]],
      ['still 2 min slow: the correction holds', T - 120_000 + 5000, [200, 1]],
      ['NTP sets it right: the old correction makes the stamp not-yet-valid once, then it goes back to 0', T + 6000, [200, 2]],
      ['right: no correction, one request', T + 7000, [200, 1]],
      ['3 min fast (a VM with a wrong zone fixed by hand)', T + 180_000, [200, 2]],
      ['stepped back 1 h: beyond the 5 min bound, nothing learned, the refusal returned', T - HOUR, [401, 1]],
      ['and it stays refused: the bound is not walked in steps', T - HOUR + 1000, [401, 1]],
      ['set right again: the 3 min correction still held makes one refusal, then 0', T + 2000, [200, 2]],
    ];
    for (const [name, ms, expected] of script) {
      local.ms = ms;
      expect([name, await call()]).toEqual([name, expected]);
    }
  });

  it('a local clock that steps back while a request is out teaches nothing from that answer (its round trip is unknown); the next refusal does', async () => {
    const { local, call, inFlight } = clientAndServer();
    local.ms = T - 120_000;
    inFlight(() => (local.ms -= 1000)); // answered "before" it was sent
    expect(await call()).toEqual([401, 1]);
    inFlight(undefined);
    expect(await call()).toEqual([200, 2]);
    expect(await call()).toEqual([200, 1]);
  });
});

describe("ip: 'ticket' when the client's clock steps back while the servers' runs on (§6.1, §7)", () => {
  it('the held ticket outlives its exp by the client clock: refused bad-ticket, renewed at the issuer’s time; at most one request is refused, the next is accepted', async () => {
    const server = { ms: T };
    const local = { ms: T };
    const edge = 'https://edge.example.com';
    const issuer = createTicketIssuer({ key: issuerJwk, origin: edge, replayStore: new MapReplayStore(), now: () => server.ms, lifetime: 60 });
    const v = createVerifierCore({
      keys: { keys: [] },
      issuers: { [edge]: issuer.jwks },
      replayStore: new MapReplayStore(),
      now: () => server.ms,
      maxAge: MAX_AGE,
      skew: SKEW,
    });
    const log: string[] = [];
    const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      const input2 = {
        method: request.method,
        url: url.pathname,
        protocol: 'https' as const,
        headers: {
          host: url.host,
          'client-ip-attestation': request.headers.get('client-ip-attestation') ?? undefined,
          'client-ip-ticket': request.headers.get('client-ip-ticket') ?? undefined,
        },
        hints: { l3: '192.0.2.7' },
      };
      const date = new Date(Math.floor(server.ms / 1000) * 1000).toUTCString();
      const r = url.host === 'edge.example.com' ? await issuer.issue(input2) : await v.verify(input2);
      log.push(`${url.host.split('.')[0]} ${r.ok ? 200 : r.reason}`);
      if (r.ok && 'ticket' in r) return Response.json({ ticket: r.ticket, ip: r.ip, exp: r.exp }, { headers: { date, 'cache-control': 'no-store' } });
      if (r.ok) return new Response('ok', { headers: { date } });
      return new Response(JSON.stringify({ type: 'about:blank', status: r.status, reason: r.reason }), {
        status: r.status,
        headers: { 'content-type': 'application/problem+json', date },
      });
    };
    const stamped = createStampedFetch({ key: await generateStampKey({ alg: 'ES256' }), ip: 'ticket', issuer: edge, fetch, now: () => local.ms });
    const call = async (): Promise<[number, string[]]> => {
      log.length = 0;
      const response = await stamped('https://api.example.com/a');
      return [response.status, [...log]];
    };
    expect(await call()).toEqual([200, ['edge 200', 'api 200']]);
    // 100 s later by the servers; the client's clock was stepped back as much (it still reads T)
    server.ms = T + 100_000;
    // today: [401, api bad-ticket, edge expired, edge 200, api expired] — the renewal takes the
    // request's one retry, so the api's clock refusal is returned; bounded:
    const first = await call();
    expect(first[1].length).toBeLessThanOrEqual(4);
    expect(first[1].slice(0, 3)).toEqual(['api bad-ticket', 'edge expired', 'edge 200']); // the issuer's time learned, a new ticket
    expect((await call())[0]).toBe(200);
    expect(await call()).toEqual([200, ['api 200']]);
  });
});
