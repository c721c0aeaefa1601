import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTicketIssuer, type IssueResult } from '../../server/issuer/issuer.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { ReplayStoreFullError, type ReplayStore } from '../../server/stores/replay-store.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * PROTOCOL.md §7.1, the issuer's checks of the proof, pinned where mutation testing found them
 * unasserted: the reason a proof-less request gets, the 4096 limit (inclusive, as for a stamp),
 * the claims table (a proof that breaks it is bad-claims, not whatever a later step makes of
 * it), a key nobody can hold being a bad header, and the replay memory: keyed by
 * (thumbprint, jti) and kept for as long as the proof is fresh.
 */
const EDGE = 'https://edge.example.com';
const HTU = `${EDGE}/.well-known/ipstamp/ticket`;
const NOW = 1_767_225_600_000;
const MAX_AGE = 30;
const SKEW = 5;

interface ClientKey {
  alg: 'ES256' | 'EdDSA';
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
}

function clientKey(alg: 'ES256' | 'EdDSA'): ClientKey {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const { kty, crv, x, y } = pair.publicKey.export({ format: 'jwk' });
  const publicJwk = alg === 'ES256' ? { kty, crv, x, y } : { kty, crv, x };
  return { alg, privateJwk: pair.privateKey.export({ format: 'jwk' }) as Record<string, unknown>, publicJwk };
}

const issuerJwk = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'edge-1', alg: 'EdDSA' };
const es = clientKey('ES256');
const ed = clientKey('EdDSA');

const jti = () => randomBytes(16).toString('base64url');

/** A proof as §7.1 describes it, signed by `key`; `header` and `claims` override (undefined drops a member). */
function proof(key: ClientKey, header: Record<string, unknown> = {}, claims: Record<string, unknown> = {}): string {
  return signRaw(
    key.privateJwk,
    { alg: key.alg, typ: 'ipstamp-ticket-req+jwt', jwk: key.publicJwk, ...header },
    { iat: Math.floor(NOW / 1000), jti: jti(), htm: 'POST', htu: HTU, ...claims },
    key.alg,
  );
}

function edge(options: { replayStore?: ReplayStore; now?: () => number } = {}) {
  return createTicketIssuer({
    key: issuerJwk,
    origin: EDGE,
    origins: [EDGE],
    replayStore: options.replayStore ?? new MapReplayStore(),
    now: options.now ?? (() => NOW),
    maxAge: MAX_AGE,
    skew: SKEW,
  });
}

function ask(issuer: ReturnType<typeof edge>, token: string | undefined): Promise<IssueResult> {
  const headers: Record<string, string> = { host: 'edge.example.com' };
  if (token !== undefined) headers['client-ip-attestation'] = token;
  return issuer.issue({ method: 'POST', url: '/.well-known/ipstamp/ticket', protocol: 'https', headers, hints: { l3: '203.0.113.7' } });
}

const outcome = (r: IssueResult) => (r.ok ? 'issued' : r.reason);

/** A valid proof of exactly `length` characters, grown by an unknown header member and an unknown claim (both ignored). */
function proofOfLength(length: number): string {
  for (let h = 0; h < 4; h++) {
    // start a little short of the target: each pad character adds 4/3 of a character
    for (let p = Math.max(0, Math.floor(((length - 700) * 3) / 4)); p < length; p++) {
      const token = proof(ed, h === 0 ? {} : { pad: 'y'.repeat(h) }, { pad: 'z'.repeat(p) });
      if (token.length === length) return token;
      if (token.length > length) break;
    }
  }
  throw new Error(`no proof of ${length} characters`);
}

describe('issuer: a request without a proof', () => {
  it('is refused as missing (401, ERR_IPSTAMP_MISSING): a client can tell "send a proof" from "your proof is broken"', async () => {
    const r = await ask(edge(), undefined);
    expect(r.ok ? undefined : [r.reason, r.status, r.error.code]).toEqual(['missing', 401, 'ERR_IPSTAMP_MISSING']);
  });
});

describe('issuer: the proof is at most 4096 characters, as any Client-IP-Attestation (§2, inclusive)', () => {
  it('a proof of exactly 4096 characters buys a ticket', async () => {
    const token = proofOfLength(4096);
    expect(token).toHaveLength(4096);
    expect(outcome(await ask(edge(), token))).toBe('issued');
  });

  it('one of 4097 characters is malformed, before its signature is checked', async () => {
    const token = proofOfLength(4097);
    expect(token).toHaveLength(4097);
    expect(outcome(await ask(edge(), token))).toBe('malformed');
  });
});

describe('issuer: a proof that breaks the claims table of §7.1 is bad-claims', () => {
  it.each<[string, Record<string, unknown>]>([
    ['no jti', { jti: undefined }],
    ['a jti of 21 characters (under 128 bits)', { jti: 'A'.repeat(21) }],
    ['iat as a string', { iat: String(Math.floor(NOW / 1000)) }],
    ['iat not a whole number', { iat: Math.floor(NOW / 1000) + 0.5 }],
    ['htm in lower case', { htm: 'post' }],
    ['no htm', { htm: undefined }],
    ['no htu', { htu: undefined }],
  ])('%s', async (_, claims) => {
    // correctly signed by the key it carries, so only the claims are wrong
    expect(outcome(await ask(edge(), proof(es, {}, claims)))).toBe('bad-claims');
  });
});

describe('issuer: a proof’s optional exp and cdg are held to §2.2’s rules, as a stamp’s are', () => {
  // Both are used when present (step 8 reads exp, step 9 cdg), so what they may be is the claims
  // table's to say, not a later step's: an exp of "x" was read as "expired", one of a day as fine.
  const iat = Math.floor(NOW / 1000);
  it.each<[string, Record<string, unknown>, string]>([
    ['exp as a string', { exp: 'x' }, 'bad-claims'],
    ['exp not a whole number', { exp: iat + 10.5 }, 'bad-claims'],
    ['exp at iat (§2.2: iat < exp)', { exp: iat }, 'bad-claims'],
    ['exp before iat', { exp: iat - 100 }, 'bad-claims'],
    ['exp past iat + maxAge', { exp: iat + MAX_AGE + 1 }, 'bad-claims'],
    ['exp a day away', { exp: iat + 86_400 }, 'bad-claims'],
    ['cdg that is not a SHA-256 in base64url', { cdg: 'x' }, 'bad-claims'],
    ['exp at iat + maxAge: the last the table allows', { exp: iat + MAX_AGE }, 'issued'],
    ['exp a second after iat', { exp: iat + 1 }, 'issued'],
    ['tth: unknown on a proof, ignored', { tth: 'x' }, 'issued'],
  ])('%s: %s', async (_, claims, expected) => {
    expect(outcome(await ask(edge(), proof(es, {}, claims)))).toBe(expected);
  });

  it('an exp within the table that has passed is expired (step 8), as for a stamp', async () => {
    const iatEarlier = Math.floor(NOW / 1000) - 20;
    const token = proof(es, {}, { iat: iatEarlier, exp: iatEarlier + 10 });
    expect(outcome(await ask(edge(), token))).toBe('expired');
  });
});

describe('issuer: a key nobody holds, or everybody does, is a bad header (never a signature check)', () => {
  it('an EC jwk whose point is not on P-256', async () => {
    const offCurve = { kty: 'EC', crv: 'P-256', x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') };
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'ipstamp-ticket-req+jwt', jwk: offCurve })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ iat: Math.floor(NOW / 1000), jti: jti(), htm: 'POST', htu: HTU })).toString('base64url');
    const token = `${header}.${claims}.${Buffer.alloc(64, 3).toString('base64url')}`;
    expect(outcome(await ask(edge(), token))).toBe('bad-header');
  });

  it('a small-order Ed25519 key, with the signature that verifies any message under it (R = identity, S = 0)', async () => {
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    const header = Buffer.from(
      JSON.stringify({ alg: 'EdDSA', typ: 'ipstamp-ticket-req+jwt', jwk: { kty: 'OKP', crv: 'Ed25519', x: identity.toString('base64url') } }),
    ).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ iat: Math.floor(NOW / 1000), jti: jti(), htm: 'POST', htu: HTU })).toString('base64url');
    const token = `${header}.${claims}.${Buffer.concat([identity, Buffer.alloc(32)]).toString('base64url')}`;
    expect(outcome(await ask(edge(), token))).toBe('bad-header');
  });
});

describe('issuer: the replay memory of proofs', () => {
  it('is keyed by (thumbprint, jti): two clients whose proofs share a jti both get tickets; the same key twice is a replay', async () => {
    const issuer = edge();
    const shared = jti();
    expect(outcome(await ask(issuer, proof(es, {}, { jti: shared })))).toBe('issued');
    // another client picking (or being handed) the same jti is not refused for it
    expect(outcome(await ask(issuer, proof(ed, {}, { jti: shared })))).toBe('issued');
    expect(outcome(await ask(issuer, proof(es, {}, { jti: shared })))).toBe('replay');
  });

  it('lasts as long as the proof is fresh: the same proof sent again at the last fresh second is a replay', async () => {
    // a store that really expires entries, on the issuer's clock: a TTL shorter than the
    // freshness window would let a captured proof buy a second ticket
    let now = NOW;
    const issuer = edge({ replayStore: new MemoryReplayStore({ now: () => now }), now: () => now });
    const token = proof(es);
    expect(outcome(await ask(issuer, token))).toBe('issued');
    now = NOW + (MAX_AGE + SKEW) * 1000; // now − iat = maxAge + skew: still fresh
    expect(outcome(await ask(issuer, token))).toBe('replay');
    now += 1000;
    expect(outcome(await ask(issuer, token))).toBe('expired');
  });

  it('a store that is full refuses as store-unavailable marked full; one that fails otherwise is not marked', async () => {
    const full = await ask(edge({ replayStore: { insertIfAbsent: () => Promise.reject(new ReplayStoreFullError()) } }), proof(es));
    expect(full).toMatchObject({ ok: false, reason: 'store-unavailable', status: 503, store: 'full' });
    const down = await ask(edge({ replayStore: { insertIfAbsent: () => Promise.reject(new Error('connection refused')) } }), proof(es));
    expect(down).toMatchObject({ ok: false, reason: 'store-unavailable', status: 503 });
    expect(down).not.toHaveProperty('store');
  });
});
