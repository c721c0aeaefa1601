import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { collectHints } from '../../server/hints/collect.js';
import { forwardingHeaderReader } from '../../server/hints/forwarding-header.js';
import { compileTrust } from '../../server/hints/trust.js';
import { nodeCompactCodec } from '../../server/jws/compact.js';
import { nodeCrypto } from '../../server/jws/node-crypto.js';
import { bindingMatches } from '../../server/verify/binding.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyPlatform } from '../../server/verify/platform.js';
import { createTicketVerifier } from '../../server/verify/ticket-verifier.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { createVerifierPipeline } from '../../server/verify/verifier.js';
import { createHeaderDecoder } from '../../server/verify/stamp-reader.js';
import { hintAddress } from '../../shared/address.js';
import { MAX_STAMP_BYTES } from '../../shared/constants.js';
import { originFromHost } from '../../shared/htu.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

// every address a forwarding header entry is read as goes through hintAddress: counted here
vi.mock(import('../../shared/address.js'), async (original) => {
  const actual = await original();
  return { ...actual, hintAddress: vi.fn(actual.hintAddress) };
});
// every Host step 9 works out goes through originFromHost: counted here, answers unchanged
vi.mock(import('../../shared/htu.js'), async (original) => {
  const actual = await original();
  return { ...actual, originFromHost: vi.fn(actual.originFromHost) };
});
// every forwarding header reader collectHints builds: counted here, answers unchanged
vi.mock(import('../../server/hints/forwarding-header.js'), async (original) => {
  const actual = await original();
  return { ...actual, forwardingHeaderReader: vi.fn(actual.forwardingHeaderReader) };
});

/**
 * Resource bounds of the verifier, counted rather than timed: what an unauthenticated request
 * can make a verifier do before it is refused, and that the caches fed by request input stay
 * bounded. The Host, header-segment,
 * trust, ticket and remote-key-set bounds have their own tests (binding-host-cache,
 * stamp-reader.property, trust-cache-bounded, tickets, remote-key-set).
 */

const NOW = 1_764_000_000_000;
const iat = NOW / 1000;
const CLIENT = '192.0.2.7';
const EDGE = 'https://edge.example.com';

let es: TestKeyPair;
let issuer: TestKeyPair;

beforeAll(async () => {
  es = await makeKey('ES256', 'client-es');
  issuer = await makeKey('EdDSA', 'edge-1');
});

/** node:crypto with its expensive calls counted. */
function countingPlatform() {
  const calls = { verify: 0, importKey: 0, importClientKey: 0 };
  const crypto = {
    ...nodeCrypto,
    verifySignature: (...args: Parameters<typeof nodeCrypto.verifySignature>) => (calls.verify++, nodeCrypto.verifySignature(...args)),
    importKey: (...args: Parameters<typeof nodeCrypto.importKey>) => (calls.importKey++, nodeCrypto.importKey(...args)),
    importClientKey: (...args: Parameters<typeof nodeCrypto.importClientKey>) => (calls.importClientKey++, nodeCrypto.importClientKey(...args)),
  };
  const platform = { ...nodePlatform, crypto } as VerifyPlatform;
  return { calls, platform };
}

const claims = (over: Record<string, unknown> = {}) => ({
  ip: CLIENT,
  iat,
  jti: randomBytes(16).toString('base64url'),
  htm: 'GET',
  htu: 'http://api.example.com/orders',
  ...over,
});
const header = (over: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'client-es', ...over });

function input(headers: Record<string, string>): VerifyInput {
  return { method: 'GET', url: '/orders', headers: { host: 'api.example.com', ...headers }, hints: { l3: CLIENT } };
}
const stamped = (token: string) => input({ 'client-ip-attestation': token });

async function reasonOf(result: Promise<VerifyResult>): Promise<string> {
  const r = await result;
  return r.ok ? 'accepted' : r.reason;
}

function verifierWith(over: Partial<VerifierOptions> = {}) {
  const { calls, platform } = countingPlatform();
  const verifier = createVerifierPipeline({ keys: { keys: [es.publicJwk] }, replayStore: new MapReplayStore(), now: () => NOW, ...over }, platform);
  // what setup imported (the JWK Sets) is not a request's cost
  Object.assign(calls, { verify: 0, importKey: 0, importClientKey: 0 });
  return { calls, verifier };
}

describe('a refusal an attacker without a key can have for free costs no signature check', () => {
  it("malformed, bad-header, an unknown kid, an alg that is not the key's: 0 signature checks for 300 of each", async () => {
    const { calls, verifier } = verifierWith();
    const forged = (h: Record<string, unknown>) => signRaw(es.privateJwk, h, claims());
    const cases: [string, () => string][] = [
      ['malformed', () => `${forged(header())}.extra`],
      ['malformed', () => `e30.${'A'.repeat(MAX_STAMP_BYTES)}.AAAA`],
      ['bad-header', () => forged(header({ typ: 'JWT', kid: `k${randomBytes(6).toString('hex')}` }))],
      ['bad-header', () => forged({ ...header(), jku: 'https://attacker.example/jwks' })],
      ['unknown-key', () => forged(header({ kid: randomBytes(24).toString('base64url') }))],
      // the key's alg is compared before its signature is checked
      ['bad-signature', () => signRaw(es.privateJwk, header({ alg: 'ES384' }), claims(), 'ES256')],
    ];
    for (const [reason, token] of cases) {
      for (let i = 0; i < 300; i++) expect(await reasonOf(verifier.verify(stamped(token())))).toBe(reason);
    }
    expect(calls.verify).toBe(0);
  });

  it('what §5 checks after the signature costs one signature check each, never more', async () => {
    const { calls, verifier } = verifierWith();
    const other = await makeKey('ES256', 'client-es');
    const replayed = signRaw(es.privateJwk, header(), claims());
    expect(await reasonOf(verifier.verify(stamped(replayed)))).toBe('accepted');
    const cases: [string, string][] = [
      ['bad-signature', signRaw(other.privateJwk, header(), claims())],
      ['expired', signRaw(es.privateJwk, header(), claims({ iat: iat - 3600 }))],
      ['binding-mismatch', signRaw(es.privateJwk, header(), claims({ htu: 'http://api.example.com/elsewhere' }))],
      ['replay', replayed],
    ];
    for (const [reason, token] of cases) {
      calls.verify = 0;
      for (let i = 0; i < 10; i++) expect(await reasonOf(verifier.verify(stamped(token)))).toBe(reason);
      expect([reason, calls.verify]).toEqual([reason, 10]);
    }
  });

  it('a ticket of an issuer nobody trusts, or no ticket at all, costs no signature check and no key import', async () => {
    const { calls, verifier } = verifierWith({ issuers: { [EDGE]: { keys: [issuer.publicJwk] } } });
    const stamp = signRaw(es.privateJwk, header(), claims());
    const { kty, crv, x, y } = es.publicJwk;
    const ticketOf = (iss: string) =>
      signRaw(
        issuer.privateJwk,
        { alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' },
        { iss, ip: CLIENT, iat, exp: iat + 300, jti: randomBytes(16).toString('base64url'), cnf: { jwk: { kty, crv, x, y } } },
      );
    for (let i = 0; i < 1000; i++) {
      const iss = `https://${randomBytes(6).toString('hex')}.example.com`;
      expect(await reasonOf(verifier.verify(input({ 'client-ip-attestation': stamp, 'client-ip-ticket': ticketOf(iss) })))).toBe('bad-ticket');
      expect(await reasonOf(verifier.verify(input({ 'client-ip-attestation': stamp, 'client-ip-ticket': `${i}.not-a-ticket` })))).toBe('bad-ticket');
    }
    expect(calls).toEqual({ verify: 0, importKey: 0, importClientKey: 0 });
  });

  it("a good ticket beside a stamp whose kid is not the ticket key's costs the ticket's check only, once", async () => {
    const { calls, verifier } = verifierWith({ issuers: { [EDGE]: { keys: [issuer.publicJwk] } }, now: () => Date.now() });
    const now = Math.floor(Date.now() / 1000);
    const { kty, crv, x, y } = es.publicJwk;
    const ticket = signRaw(
      issuer.privateJwk,
      { alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' },
      { iss: EDGE, ip: CLIENT, iat: now, exp: now + 300, jti: randomBytes(16).toString('base64url'), cnf: { jwk: { kty, crv, x, y } } },
    );
    for (let i = 0; i < 100; i++) {
      const stamp = signRaw(es.privateJwk, header({ kid: `not-the-thumbprint-${i}` }), claims({ iat: now }));
      expect(await reasonOf(verifier.verify(input({ 'client-ip-attestation': stamp, 'client-ip-ticket': ticket })))).toBe('unknown-key');
    }
    // the ticket once (then remembered), the stamp never
    expect(calls).toEqual({ verify: 1, importKey: 0, importClientKey: 1 });
  });
});

describe('the verified-ticket memory', () => {
  it('a flood of forged tickets is never remembered, so it cannot push a good ticket out', async () => {
    const { calls, platform } = countingPlatform();
    const verifyTicket = createTicketVerifier({ [EDGE]: { keys: [issuer.publicJwk] } }, 5, platform);
    const now = Math.floor(Date.now() / 1000);
    const { kty, crv, x, y } = es.publicJwk;
    const head = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' })).toString('base64url');
    const good = signRaw(
      issuer.privateJwk,
      { alg: 'EdDSA', typ: 'ipstamp-ticket+jwt', kid: 'edge-1' },
      { iss: EDGE, ip: CLIENT, iat: now, exp: now + 300, jti: 'A'.repeat(22), cnf: { jwk: { kty, crv, x, y } } },
    );
    const signature = good.split('.')[2]!;
    expect(await verifyTicket(good, now * 1000)).toMatchObject({ ip: CLIENT });
    expect(calls.verify).toBe(1);
    // 5,000 forgeries: the good ticket's signature under other claims (well past the 4,096 kept)
    for (let i = 0; i < 5000; i++) {
      const payload = { iss: EDGE, ip: CLIENT, iat: now, exp: now + 300, jti: `forged-${String(i).padStart(15, '0')}`, cnf: { jwk: { kty, crv, x, y } } };
      const forged = `${head}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
      expect(await verifyTicket(forged, now * 1000)).toBeUndefined();
    }
    expect(calls.verify).toBe(5001); // one check each, a forgery is never answered from memory
    expect(await verifyTicket(good, now * 1000)).toMatchObject({ ip: CLIENT });
    expect(calls.verify).toBe(5001); // still remembered
  });
});

describe('the key function (keys: kid → key): what it returns is compiled once per object', () => {
  it('the same key object for 1,000 stamps is imported once; a kid-less one answering many kids, once', async () => {
    const same = { ...es.publicJwk };
    const { calls, verifier } = verifierWith({ keys: (kid) => (kid === 'client-es' ? same : undefined) });
    for (let i = 0; i < 1000; i++) expect(await reasonOf(verifier.verify(stamped(signRaw(es.privateJwk, header(), claims()))))).toBe('accepted');
    expect(calls.importKey).toBe(1);

    const { kid: _kid, ...kidless } = es.publicJwk;
    const shared = { ...kidless };
    const many = verifierWith({ keys: () => shared });
    for (let i = 0; i < 1000; i++) {
      const kid = `user-${i}`;
      expect(await reasonOf(many.verifier.verify(stamped(signRaw(es.privateJwk, header({ kid }), claims()))))).toBe('accepted');
    }
    expect(many.calls.importKey).toBe(1);
  });

  it('a key object that cannot be used is tried once, then unknown-key without another import', async () => {
    const broken = { ...es.publicJwk, x: 'AAAA' };
    const { calls, verifier } = verifierWith({ keys: () => broken });
    for (let i = 0; i < 1000; i++) expect(await reasonOf(verifier.verify(stamped(signRaw(es.privateJwk, header(), claims()))))).toBe('unknown-key');
    expect(calls.importKey).toBe(1);
    expect(calls.verify).toBe(0);
  });
});

describe('JSON inside the 4,096-character stamp, however shaped, never throws', () => {
  it('1,100 levels of nesting, or 300 members, in the header or the claims: read to the end, a repeat at the bottom refused', async () => {
    const { verifier } = verifierWith();
    const nested = (n: number, bottom: string) => `${'['.repeat(n)}${bottom}${']'.repeat(n)}`;
    const headerText = (extra: string) => `{"alg":"ES256","typ":"ipstamp+jwt","kid":"client-es",${extra}}`;
    const claimsText = (extra: string) => JSON.stringify(claims()).replace(/}$/, `,${extra}}`);
    const members = (n: number) => Array.from({ length: n }, (_, i) => `"m${i.toString(36)}":0`).join(',');
    const cases: [string, string, string][] = [
      // members a header or claims do not define are ignored (PROTOCOL.md §2.1–2.2): accepted
      ['accepted', headerText(`"x":${nested(1100, '{"a":0}')}`), claimsText('"y":0')],
      ['accepted', headerText(members(300)), claimsText('"y":0')],
      ['accepted', headerText('"x":0'), claimsText(`"y":${nested(1100, '{"a":0}')}`)],
      // a repeated member at any depth is refused
      ['bad-header', headerText(`"x":${nested(1100, '{"a":0,"a":1}')}`), claimsText('"y":0')],
      ['bad-claims', headerText('"x":0'), claimsText(`"y":${nested(1100, '{"a":0,"a":1}')}`)],
      ['bad-claims', headerText('"x":0'), claimsText(`${members(300)},"m0":1`)],
    ];
    for (const [reason, headerJson, claimsJson] of cases) {
      const token = signRaw(es.privateJwk, headerJson, claimsJson);
      expect(token.length).toBeLessThanOrEqual(MAX_STAMP_BYTES);
      expect(await reasonOf(verifier.verify(stamped(token)))).toBe(reason);
    }
  });
});

describe('caches fed by request input hold small entries only', () => {
  /** The header-segment decoder with its JSON parses counted. */
  function countedDecoder() {
    let parses = 0;
    const codec = { ...nodeCompactCodec, decodeJsonSegment: (segment: string) => (parses++, nodeCompactCodec.decodeJsonSegment(segment)) };
    return { decode: createHeaderDecoder(codec), parses: () => parses };
  }
  const segmentOf = (json: string) => Buffer.from(json).toString('base64url');

  it('a header segment past 256 characters is answered but not remembered: 1,024 of them cannot fill the memory with what they parse to', () => {
    const { decode, parses } = countedDecoder();
    // the longest header a client sends: alg, typ and a kid of 128 characters, remembered
    const longest = segmentOf(`{"alg":"Ed25519","typ":"ipstamp+jwt","kid":"${'k'.repeat(128)}"}`);
    expect(longest.length).toBeLessThanOrEqual(256);
    // ~3,000 characters that parse to 1,100 nested arrays: ~60 KB of heap each (1,024: ~60 MB)
    const hostile = segmentOf(`{"alg":"ES256","typ":"ipstamp+jwt","kid":"client-es","x":${'['.repeat(1100)}${']'.repeat(1100)}}`);
    const other = segmentOf('{"alg":"ES256","typ":"ipstamp+jwt","kid":"other"}');
    decode(other);
    for (const segment of [longest, hostile]) {
      const before = parses();
      expect(decode(segment)).toMatchObject({ alg: expect.any(String) });
      decode(other); // the last segment is compared before the map: step off it
      expect(decode(segment)).toMatchObject({ alg: expect.any(String) });
      expect([segment.length, parses() - before]).toEqual([segment.length, segment === longest ? 1 : 2]);
    }
  });

  it('a Host past 259 characters (a DNS name and a port) is worked out but not remembered', () => {
    const opts = { origins: undefined, requireBodyDigest: false, trust: compileTrust([]), protoHeader: undefined, platform: nodePlatform };
    const hints = { l3: CLIENT, l4: undefined, l7: [] };
    const bind = (host: string) =>
      bindingMatches(
        { htm: 'GET', htu: `https://${host}/x` },
        { method: 'GET', url: '/x', protocol: 'https', headers: { host }, hints: { l3: CLIENT } },
        opts,
        hints,
      );
    const parsesOf = (host: string) => vi.mocked(originFromHost).mock.calls.filter(([h]) => h === host).length;
    const label = 'a'.repeat(63);
    const longestName = `${label}.${label}.${label}.${'b'.repeat(57)}:65535`; // 253 + 6
    const hostile = `${'a'.repeat(15_000)}.example.com`; // 1,024 of them held ~30 MB
    expect(bind('other.example.com')).toBe(true);
    for (const host of [longestName, hostile]) {
      expect(bind(host)).toBe(true);
      expect(bind('other.example.com')).toBe(true); // the last Host is compared before the map
      expect(bind(host)).toBe(true);
      expect([host.length, parsesOf(host)]).toEqual([host.length, host === longestName ? 1 : 2]);
    }
  });
});

describe('forwarding headers: the work is bounded by the caps, not by what the client sent', () => {
  it('1,000 lines of 10,000 entries each: at most maxEntries (32) addresses are read', () => {
    const line = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(', ');
    const lines = Array.from({ length: 1000 }, () => line);
    const read = forwardingHeaderReader('x-forwarded-for');
    vi.mocked(hintAddress).mockClear();
    const entries = read(lines);
    expect(entries).toHaveLength(32);
    expect(vi.mocked(hintAddress).mock.calls.length).toBeLessThanOrEqual(32);
    // one line of a million commas: the same
    vi.mocked(hintAddress).mockClear();
    expect(read([','.repeat(1_000_000)])).toHaveLength(32);
    expect(vi.mocked(hintAddress).mock.calls.length).toBeLessThanOrEqual(32);
  });

  it('collectHints keeps readers for at most 16 header names: more names cost a reader each, never memory', () => {
    const trust = compileTrust(['10.0.0.0/8']);
    const built = vi.mocked(forwardingHeaderReader);
    const hintsWith = (name: string) => collectHints({ l3: '10.0.0.1', trust, forwardedHeader: name, headerValues: ['192.0.2.9'] });
    built.mockClear();
    for (let i = 0; i < 16; i++) expect(hintsWith(`x-real-${i}`).observed).toBe('192.0.2.9');
    for (let i = 0; i < 16; i++) hintsWith(`x-real-${i}`);
    expect(built).toHaveBeenCalledTimes(16); // remembered: each built once
    for (let i = 16; i < 1000; i++) hintsWith(`x-other-${i}`);
    built.mockClear();
    hintsWith('x-other-500');
    hintsWith('x-other-500');
    expect(built).toHaveBeenCalledTimes(2); // past 16 names nothing more is kept
    hintsWith('x-real-3');
    expect(built).toHaveBeenCalledTimes(2); // and the first 16 are still there
  });
});
