import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

const NOW = 1_764_000_000_000;
const iat = NOW / 1000;
let es: TestKeyPair;
let ed: TestKeyPair;

beforeAll(async () => {
  es = await makeKey('ES256', 'k1');
  ed = await makeKey('EdDSA', 'k2');
});

let n = 0;
const claims = (over: Record<string, unknown> = {}) => ({
  ip: '192.0.2.7',
  iat,
  jti: `jti-${String(++n).padStart(20, '0')}`,
  htm: 'POST',
  htu: 'https://api.example.com/orders',
  ...over,
});
const header = (over: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'k1', ...over });

function verify(token: string | string[], over: Partial<VerifyInput> = {}, opts: Partial<VerifierOptions> = {}, store = new MapReplayStore()) {
  const v = createVerifierCore({ keys: { keys: [es.publicJwk, ed.publicJwk] }, replayStore: store, now: () => NOW, ...opts });
  return v.verify({
    method: 'POST',
    url: '/orders?page=2',
    protocol: 'https',
    headers: { host: 'api.example.com', 'client-ip-attestation': token },
    hints: { l3: '192.0.2.7' },
    ...over,
  });
}
const reason = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);
const good = () => signRaw(es.privateJwk, header(), claims());

describe('step 2: malformed', () => {
  it.each([
    ['two instances', () => [good(), good()]],
    ['joined duplicate', () => `${good()}, ${good()}`],
    ['four segments', () => `${good()}.AAAA`],
    ['two segments', () => good().split('.').slice(0, 2).join('.')],
    ['non-base64url character', () => good().replace('.', '.+')],
    ['padding', () => `${good()}=`],
    ['impossible segment length', () => 'AAAAA.AAAA.AAAA'],
    ['empty header segment', () => `.${good().split('.')[1]}.AAAA`],
    ['over 4096 bytes', () => signRaw(es.privateJwk, header({ pad: 'x'.repeat(3100) }), claims())],
  ])('%s', async (_, make) => {
    expect(reason(await verify(make()))).toBe('malformed');
  });
});

describe('step 3: bad-header', () => {
  it.each([
    ['alg none', header({ alg: 'none' })],
    ['alg NONE', header({ alg: 'NONE' })],
    ['alg RS256', header({ alg: 'RS256' })],
    ['typ JWT', header({ typ: 'JWT' })],
    ['no typ', { alg: 'ES256', kid: 'k1' }],
    ['no kid', { alg: 'ES256', typ: 'ipstamp+jwt' }],
    ['kid with slash', header({ kid: '../../etc/passwd' })],
    ['kid too long', header({ kid: 'k'.repeat(129) })],
    ['crit', header({ crit: ['exp'] })],
    ['b64 false', header({ b64: false })],
    ['embedded jwk', header({ jwk: { kty: 'EC' } })],
    ['jku', header({ jku: 'https://attacker.example/jwks' })],
    ['x5u', header({ x5u: 'https://attacker.example/cert' })],
    ['x5c', header({ x5c: ['MII'] })],
    ['zip', header({ zip: 'DEF' })],
  ])('%s', async (_, h) => {
    expect(reason(await verify(signRaw(es.privateJwk, h, claims(), 'ES256')))).toBe('bad-header');
  });

  it('duplicate member names in the header', async () => {
    const text = '{"alg":"ES256","typ":"ipstamp+jwt","kid":"k1","kid":"k2"}';
    expect(reason(await verify(signRaw(es.privateJwk, text, claims())))).toBe('bad-header');
  });

  it('escaped duplicate member names are duplicates too', async () => {
    const text = '{"alg":"ES256","typ":"ipstamp+jwt","kid":"k1","\\u006bid":"k1"}';
    expect(reason(await verify(signRaw(es.privateJwk, text, claims())))).toBe('bad-header');
  });

  it('header that is not a JSON object', async () => {
    expect(reason(await verify(signRaw(es.privateJwk, '["ES256"]', claims())))).toBe('bad-header');
  });

  it('unknown members are ignored', async () => {
    expect(reason(await verify(signRaw(es.privateJwk, header({ cty: 'x', extra: 1 }), claims())))).toBe('accepted');
  });
});

describe('steps 4–5: key and signature', () => {
  it('alg is pinned to the key: an HS256 token under an ES256 kid (alg confusion) is bad-signature', async () => {
    const pub = es.publicJwk;
    const confused = signRaw({ k: Buffer.from(JSON.stringify(pub)).toString('base64url') }, header({ alg: 'HS256' }), claims(), 'HS256');
    expect(reason(await verify(confused))).toBe('bad-signature');
  });

  it('EdDSA key with a token saying ES256 is bad-signature', async () => {
    expect(reason(await verify(signRaw(ed.privateJwk, header({ kid: 'k2' }), claims(), 'EdDSA')))).toBe('bad-signature');
  });

  it('a truncated signature is bad-signature', async () => {
    expect(reason(await verify(good().slice(0, -4)))).toBe('bad-signature');
  });

  it('a key function that throws fails closed as unknown-key', async () => {
    const r = await verify(
      good(),
      {},
      {
        keys: () => {
          throw new Error('db down');
        },
      },
    );
    expect(reason(r)).toBe('unknown-key');
  });

  it('a key function answering with a key that cannot be used (a short HMAC secret, no alg) is unknown-key, sync or async', async () => {
    const short = { kty: 'oct', k: 'c2hvcnQ', alg: 'HS256' };
    const reasons = [];
    for (const keys of [() => short, async () => short, () => ({ ...es.publicJwk, alg: undefined })]) reasons.push(reason(await verify(good(), {}, { keys })));
    expect(reasons).toEqual(['unknown-key', 'unknown-key', 'unknown-key']);
  });

  it('an async key function works', async () => {
    const r = await verify(good(), {}, { keys: async (kid) => (kid === 'k1' ? es.publicJwk : undefined) });
    expect(reason(r)).toBe('accepted');
  });

  it('a key function answering with the private JWK, or a private KeyObject, is unknown-key: a verifier never holds a key that signs', async () => {
    const { createPrivateKey } = await import('node:crypto');
    const privateKey = createPrivateKey({ key: es.privateJwk as never, format: 'jwk' });
    const reasons = [];
    for (const keys of [() => es.privateJwk, () => ({ key: privateKey, alg: 'ES256' as const }), () => es.publicJwk])
      reasons.push(reason(await verify(good(), {}, { keys })));
    expect(reasons).toEqual(['unknown-key', 'unknown-key', 'accepted']);
  });

  it('a key function answering with a key for another kid is unknown-key', async () => {
    const r = await verify(good(), {}, { keys: () => ed.publicJwk });
    expect(reason(r)).toBe('unknown-key');
  });

  // the first kid asked for once bound such an object for good: one forged stamp naming a kid
  // of the family locked every other kid out until a restart
  it('one JWK object without a kid, returned for many kids, answers for each of them, whichever came first', async () => {
    const { kid: _kid, ...shared } = es.publicJwk;
    const tenantKey = { ...shared };
    const v = createVerifierCore({ keys: (kid) => (kid.startsWith('tenant-') ? tenantKey : undefined), replayStore: new MapReplayStore(), now: () => NOW });
    const stamp = (kid: string) =>
      v.verify({
        method: 'POST',
        url: '/orders',
        protocol: 'https',
        headers: { host: 'api.example.com', 'client-ip-attestation': signRaw(es.privateJwk, header({ kid }), claims()) },
        hints: { l3: '192.0.2.7' },
      });
    const forged = signRaw(ed.privateJwk, header({ alg: 'EdDSA', kid: 'tenant-zzz' }), claims());
    const first = await v.verify({
      method: 'POST',
      url: '/orders',
      protocol: 'https',
      headers: { host: 'api.example.com', 'client-ip-attestation': forged },
      hints: { l3: '192.0.2.7' },
    });
    const results = [first, await stamp('tenant-a'), await stamp('tenant-b'), await stamp('other')];
    expect(results.map(reason)).toEqual(['bad-signature', 'accepted', 'accepted', 'unknown-key']);
    expect(results.map((r) => (r.ok ? r.verdict?.kid : r.kid))).toEqual(['tenant-zzz', 'tenant-a', 'tenant-b', 'other']);
  });
});

describe('step 6: bad-claims', () => {
  it.each([
    ['non-canonical ip', { ip: '2001:DB8::1' }],
    ['mapped ip', { ip: '::ffff:192.0.2.7' }],
    ['unspecified ip', { ip: '0.0.0.0' }],
    ['ip with zone', { ip: 'fe80::1%eth0' }],
    ['ip with port', { ip: '192.0.2.7:80' }],
    ['iat as string', { iat: String(iat) }],
    ['iat fractional', { iat: iat + 0.5 }],
    ['jti too short', { jti: 'short' }],
    ['jti too long', { jti: 'a'.repeat(65) }],
    ['jti with bad chars', { jti: 'a'.repeat(21) + '/' }],
    ['htm lower case', { htm: 'post' }],
    ['htu with query', { htu: 'https://api.example.com/orders?x=1' }],
    ['htu relative', { htu: '/orders' }],
    ['obs unknown', { obs: 'guess' }],
    ['cdg not a digest', { cdg: 'abc' }],
    ['cdg one character too long', { cdg: 'A'.repeat(44) }],
    ['cdg one character too short', { cdg: 'A'.repeat(42) }],
    ['exp before iat', { exp: iat - 1 }],
    ['exp equal to iat', { exp: iat }],
    ['exp beyond maxAge', { exp: iat + 31 }],
    ['tth without a ticket', { tth: 'A'.repeat(43) }],
    ['missing ip', { ip: undefined }],
  ])('%s', async (_, over) => {
    expect(reason(await verify(signRaw(es.privateJwk, header(), claims(over))))).toBe('bad-claims');
  });

  // PROTOCOL §2.2: iat is read as a double, whatever its spelling
  it.each([
    [`${iat}.0`, 'accepted'],
    [`${iat / 100}e2`, 'accepted'],
    [`${iat}.00000001`, 'accepted'],
    [`${iat}.5`, 'bad-claims'],
    [`${iat}1e-1`, 'bad-claims'],
  ])('iat spelled %s: %s', async (spelled, expected) => {
    const text = JSON.stringify(claims({ iat: 0 })).replace('"iat":0', `"iat":${spelled}`);
    expect(reason(await verify(signRaw(es.privateJwk, header(), text)))).toBe(expected);
  });

  it('duplicate member names in the payload', async () => {
    const c = claims();
    const text = JSON.stringify(c).replace(/}$/, ',"ip":"203.0.113.9"}');
    expect(reason(await verify(signRaw(es.privateJwk, header(), text)))).toBe('bad-claims');
  });

  it('payload that is not valid UTF-8', async () => {
    const text = Buffer.from(JSON.stringify(claims({ note: 'XX' })));
    text[text.indexOf('XX')] = 0xff; // a lone continuation byte inside a string
    expect(reason(await verify(signRaw(es.privateJwk, header(), new Uint8Array(text))))).toBe('bad-claims');
  });

  it('unknown claims are ignored; exp within maxAge is fine', async () => {
    expect(reason(await verify(signRaw(es.privateJwk, header(), claims({ extra: { a: 1 }, exp: iat + 30 }))))).toBe('accepted');
  });
});

describe('steps 7–8: freshness', () => {
  it.each([
    [iat + 5, 'accepted'],
    [iat + 6, 'not-yet-valid'],
    [iat - 35, 'accepted'],
    [iat - 36, 'expired'],
  ])('iat %d → %s', async (t, expected) => {
    expect(reason(await verify(signRaw(es.privateJwk, header(), claims({ iat: t }))))).toBe(expected);
  });

  it('exp past (beyond skew) is expired', async () => {
    const r = await verify(signRaw(es.privateJwk, header(), claims({ iat: iat - 20, exp: iat - 6 })));
    expect(reason(r)).toBe('expired');
  });

  it('maxAge and skew are options', async () => {
    const token = signRaw(es.privateJwk, header(), claims({ iat: iat - 50 }));
    expect(reason(await verify(token, {}, { maxAge: 60, skew: 0 }))).toBe('accepted');
  });
});

describe('step 9: binding', () => {
  it('the query string is not part of htu; method and path are', async () => {
    expect(reason(await verify(good(), { url: '/orders' }))).toBe('accepted');
    expect(reason(await verify(good(), { url: '/orders/1' }))).toBe('binding-mismatch');
    expect(reason(await verify(good(), { method: 'PUT' }))).toBe('binding-mismatch');
  });

  it('the origin comes from Host unless origins pins it', async () => {
    expect(reason(await verify(good(), { headers: { host: 'evil.example', 'client-ip-attestation': good() } }))).toBe('binding-mismatch');
    expect(reason(await verify(good(), { protocol: 'http' }))).toBe('binding-mismatch');
    const pinned = { origins: ['https://api.example.com'] };
    const t = good();
    expect(reason(await verify(t, { protocol: 'http', headers: { host: 'anything', 'client-ip-attestation': t } }, pinned))).toBe('accepted');
    const other = signRaw(es.privateJwk, header(), claims({ htu: 'https://other.example/orders' }));
    expect(reason(await verify(other, {}, pinned))).toBe('binding-mismatch');
  });

  it('host with the default port equals host without it', async () => {
    const t = good();
    expect(reason(await verify(t, { headers: { host: 'API.example.com:443', 'client-ip-attestation': t } }))).toBe('accepted');
  });

  it('cdg must match the exact body bytes', async () => {
    const body = Buffer.from('{"a":1}');
    const cdg = (await import('node:crypto')).createHash('sha256').update(body).digest('base64url');
    const t = () => signRaw(es.privateJwk, header(), claims({ cdg }));
    expect(reason(await verify(t(), { body }))).toBe('accepted');
    expect(reason(await verify(t(), { body: Buffer.from('{"a":2}') }))).toBe('binding-mismatch');
    expect(reason(await verify(t(), { body: Buffer.from('{"a":1} ') }))).toBe('binding-mismatch');
  });

  it('requireBodyDigest refuses stamps without cdg', async () => {
    expect(reason(await verify(good(), {}, { requireBodyDigest: true }))).toBe('binding-mismatch');
  });
});

describe('the order of checks (PROTOCOL §5)', () => {
  it('a replayed stamp with a bad signature reports bad-signature and consumes no jti', async () => {
    const store = new MapReplayStore();
    const c = claims();
    const forged = signRaw((await makeKey('ES256', 'k1')).privateJwk, header(), c);
    expect(reason(await verify(forged, {}, {}, store))).toBe('bad-signature');
    expect(reason(await verify(forged, {}, {}, store))).toBe('bad-signature');
    expect(store.seen.size).toBe(0);
    expect(reason(await verify(signRaw(es.privateJwk, header(), c), {}, {}, store))).toBe('accepted');
  });

  it('a stamp failing ip-mismatch has consumed its jti', async () => {
    const store = new MapReplayStore();
    const t = signRaw(es.privateJwk, header(), claims());
    expect(reason(await verify(t, { hints: { l3: '198.51.100.1' } }, {}, store))).toBe('ip-mismatch');
    expect(reason(await verify(t, {}, {}, store))).toBe('replay');
  });

  it('the replay key is (kid, jti), not the token text: a re-encoded signature is still a replay', async () => {
    const store = new MapReplayStore();
    const t = signRaw(es.privateJwk, header(), claims());
    expect(reason(await verify(t, {}, {}, store))).toBe('accepted');
    const [h, p, s] = t.split('.');
    // 64 bytes → 86 chars, 2 unused bits in the last char: flip them
    const last = s!.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const flipped = alphabet[alphabet.indexOf(last) ^ 1]!;
    const respelled = `${h}.${p}.${s!.slice(0, -1)}${flipped}`;
    expect(respelled).not.toBe(t);
    expect(reason(await verify(respelled, {}, {}, store))).toBe('replay');
  });

  it('the TTL given to the store covers the last instant the stamp could pass', async () => {
    const ttls: number[] = [];
    const store = { insertIfAbsent: (_k: string, ttl: number) => (ttls.push(ttl), true) };
    await verify(signRaw(es.privateJwk, header(), claims({ iat: iat + 5 })), {}, {}, store as never);
    // iat = now + skew: a verifier whose clock runs skew behind finds it fresh until
    // iat + maxAge + 2·skew = now + 45 s (PROTOCOL §5 step 10)
    expect(ttls[0]).toBeGreaterThanOrEqual(45_000);
  });
});

describe('steps 10–12: policies', () => {
  it('onMismatch flag accepts and records the disagreement', async () => {
    const r = await verify(good(), { hints: { l3: '198.51.100.1' } }, { onMismatch: 'flag' });
    expect(r.ok && r.verdict?.agreement).toBe('mismatch');
  });

  it('onUnverifiable accept records unverifiable', async () => {
    const r = await verify(good(), {}, { trustedProxies: '192.0.2.0/24', onUnverifiable: 'accept' });
    expect(r.ok && r.verdict?.agreement).toBe('unverifiable');
  });

  // PROTOCOL §4: an unknown peer (a connection reset before the hook read it, or a runtime's
  // placeholder) is no evidence at all — never "every hop trusted"
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['0.0.0.0:0', '0.0.0.0:0'],
    ['[::]:0', '[::]:0'],
  ])('an unknown l3 (%s) is ip-unverifiable whatever the policies say', async (_, l3) => {
    for (const opts of [{}, { onUnverifiable: 'accept' as const }, { onUnverifiable: 'accept' as const, onMismatch: 'flag' as const }]) {
      const r = await verify(good(), { hints: { l3 } }, opts);
      expect(reason(r)).toBe('ip-unverifiable');
      expect(r.hints).toMatchObject({ l3: undefined, observed: undefined });
    }
  });

  it('an unknown l3 is refused even beside forwarding headers and a trusted-proxy configuration', async () => {
    const headers = { host: 'api.example.com', 'client-ip-attestation': good(), 'x-forwarded-for': '192.0.2.7' };
    const r = await verify(good(), { headers, hints: { l3: undefined } }, { trustedProxies: ['0.0.0.0/0', '::/0'], onUnverifiable: 'accept' });
    expect(reason(r)).toBe('ip-unverifiable');
  });

  it('onStoreError accept lets a stamp through, marked unchecked', async () => {
    const broken = {
      insertIfAbsent: () => {
        throw new Error('down');
      },
    };
    const r = await verify(good(), {}, { onStoreError: 'accept' }, broken as never);
    expect(r.ok && r.verdict?.replayChecked).toBe(false);
  });

  it('a missing stamp on an optional route is no verdict, not an error', async () => {
    const v = createVerifierCore({ keys: { keys: [es.publicJwk] }, replayStore: new MapReplayStore() });
    const r = await v.verify({ method: 'GET', url: '/', headers: {}, hints: { l3: '127.0.0.1' }, required: false });
    expect(r).toMatchObject({ ok: true, verdict: null });
  });
});

describe('network hints in the verifier', () => {
  const proxy = '10.0.0.1';
  it('honours the configured forwarding header only from a trusted peer', async () => {
    const t = good();
    const headers = { host: 'api.example.com', 'client-ip-attestation': t, 'x-forwarded-for': '192.0.2.7' };
    const r = await verify(t, { headers, hints: { l3: proxy } }, { trustedProxies: ['10.0.0.0/8'] });
    expect(r.ok && r.verdict?.hints).toMatchObject({ observed: '192.0.2.7', decidedBy: 'l7', l7: ['192.0.2.7'] });
    const untrusted = await verify(good(), { headers: { ...headers, 'client-ip-attestation': good() }, hints: { l3: proxy } });
    expect(reason(untrusted)).toBe('ip-mismatch');
    expect(untrusted.hints.l7).toEqual([]);
  });

  it('a client-written leftmost XFF entry cannot name the client', async () => {
    const t = signRaw(es.privateJwk, header(), claims({ ip: '203.0.113.9' }));
    const headers = { host: 'api.example.com', 'client-ip-attestation': t, 'x-forwarded-for': '203.0.113.9, 192.0.2.7' };
    const r = await verify(t, { headers, hints: { l3: proxy } }, { trustedProxies: ['10.0.0.0/8'] });
    expect(reason(r)).toBe('ip-mismatch');
    expect(r.hints.observed).toBe('192.0.2.7');
  });

  it('l4 counts only when the TCP peer is trusted', async () => {
    const r = await verify(good(), { hints: { l3: proxy, l4: '192.0.2.7' } }, { trustedProxies: ['10.0.0.0/8'] });
    expect(r.ok && r.verdict?.hints).toMatchObject({ l4: '192.0.2.7', observed: '192.0.2.7', decidedBy: 'l4' });
    const direct = await verify(good(), { hints: { l3: '198.51.100.1', l4: '192.0.2.7' } }, { trustedProxies: ['10.0.0.0/8'] });
    expect(direct.hints.l4).toBeUndefined();
    expect(reason(direct)).toBe('ip-mismatch');
  });
});

describe('options are checked at creation', () => {
  const base = () => ({ keys: { keys: [es.publicJwk] }, replayStore: new MapReplayStore() });
  it.each([
    ['maxAge', { maxAge: -1 }],
    ['skew', { skew: 1.5 }],
    ['onMismatch', { onMismatch: 'ignore' }],
    ['onUnverifiable', { onUnverifiable: 'maybe' }],
    ['onStoreError', { onStoreError: 'retry' }],
    ['trustedProxies', { trustedProxies: ['10.0.0.0/33'] }],
    ['forwardedHeader', { forwardedHeader: 'bad header' }],
    ['origins', { origins: ['not a url'] }],
    ['origins', { origins: [] }],
    ['requireBodyDigest', { requireBodyDigest: 'yes' }],
    ['replayStore', { replayStore: {} }],
    ['keys', { keys: 'keys.json' }],
    ['now', { now: 5 }],
  ])('%s', (name, over) => {
    expect(() => createVerifierCore({ ...base(), ...(over as object) } as VerifierOptions)).toThrow(new RegExp(`^${name}`));
  });

  it('an HMAC key under 32 bytes is refused at load time', () => {
    const short = { kty: 'oct', k: Buffer.alloc(31, 1).toString('base64url'), kid: 'short', alg: 'HS256' };
    expect(() => createVerifierCore({ ...base(), keys: { keys: [short] } })).toThrow(TypeError);
    expect(() => createVerifierCore({ ...base(), keys: { keys: [short] } })).toThrow(/32 bytes/);
  });

  it.each([
    ['alg not allowed', { ...({} as object), kty: 'RSA', kid: 'r', alg: 'RS256' }],
    ['curve does not fit alg', { kty: 'EC', crv: 'P-384', x: 'x', y: 'y', kid: 'c', alg: 'ES256' }],
    ['no kid', { kty: 'oct', k: Buffer.alloc(32).toString('base64url'), alg: 'HS256' }],
    ['oct for ES256', { kty: 'oct', k: Buffer.alloc(32).toString('base64url'), kid: 'o', alg: 'ES256' }],
  ])('a key with %s is refused', (_, jwk) => {
    expect(() => createVerifierCore({ ...base(), keys: { keys: [jwk] } })).toThrow(TypeError);
  });

  it('duplicate kids are refused', () => {
    expect(() => createVerifierCore({ ...base(), keys: { keys: [es.publicJwk, es.publicJwk] } })).toThrow(/duplicate kid/);
  });
});

// Boundaries no other test pinned down: mutation testing (review 36) changed each and the suite
// still passed.

/** A correctly signed stamp of exactly `length` characters, padded with an unknown claim (and header member). */
function stampOfLength(length: number): string {
  for (let h = 0; h < 4; h++) {
    for (let p = 0; p < length; p++) {
      const token = signRaw(es.privateJwk, header(h === 0 ? {} : { x: 'y'.repeat(h) }), claims({ pad: 'z'.repeat(p) }));
      if (token.length === length) return token;
      if (token.length > length) break;
    }
  }
  throw new Error(`no stamp of ${length} characters`);
}

describe('step 2: the 4096 limit is inclusive (PROTOCOL §2, §5 step 2: "at most 4096 characters")', () => {
  it('a stamp of exactly 4096 characters is verified', async () => {
    const token = stampOfLength(4096);
    expect(token).toHaveLength(4096);
    expect(reason(await verify(token))).toBe('accepted');
  });

  it('one of 4097 characters is malformed', async () => {
    const token = stampOfLength(4097);
    expect(reason(await verify(token))).toBe('malformed');
  });
});

describe('step 9: htm equals the request method byte for byte (case-sensitive)', () => {
  it.each(['post', 'Post', 'pOST'])('a request whose method is %s does not match htm POST', async (method) => {
    expect(reason(await verify(signRaw(es.privateJwk, header(), claims()), { method }))).toBe('binding-mismatch');
  });
});

describe('origins are scheme://host[:port] and nothing else (PROTOCOL §5.1 (1))', () => {
  it.each([
    'https://api.example.com/app',
    'https://api.example.com/app/',
    'https://api.example.com?x=1',
    'https://user@api.example.com',
    'ftp://api.example.com',
    'ws://api.example.com:8080',
  ])('%s is refused at setup, not silently widened to its origin', (origin) => {
    expect(() => createVerifierCore({ keys: { keys: [] }, replayStore: new MapReplayStore(), origins: [origin] })).toThrow(/^origins/);
  });
});

// Mutation round over the decision path (helper hF): each test below failed with one mutant of
// server/verify or shared that the rest of the suite let through.
describe('the verdict carries what the stamp said (PROTOCOL §5.4)', () => {
  it('exp, when the stamp has it, is in the verdict; absent otherwise', async () => {
    const r = await verify(signRaw(es.privateJwk, header(), claims({ exp: iat + 20 })));
    expect(r.ok && r.verdict?.exp).toBe(iat + 20);
    const without = await verify(good());
    expect(without.ok && without.verdict !== null && 'exp' in without.verdict).toBe(false);
  });
});

describe('step 9: the origin of htu is compared as written, never normalized on the way (PROTOCOL §5 step 9, §5.1 (1))', () => {
  // the client normalizes htu (lower-case host): a verifier that lower-cased it again would let one
  // origin be spelt several ways, where Host and origins both name it once
  const upper = () => signRaw(es.privateJwk, header(), claims({ htu: 'https://API.example.com/orders' }));
  it('an htu whose host is not lower case is binding-mismatch against configured origins', async () => {
    expect(reason(await verify(upper(), {}, { origins: ['https://api.example.com'] }))).toBe('binding-mismatch');
    expect(reason(await verify(good(), {}, { origins: ['https://api.example.com'] }))).toBe('accepted');
  });
  it('and against the Host-based origin', async () => {
    expect(reason(await verify(upper()))).toBe('binding-mismatch');
  });
});

describe('steps 7–8: now keeps its fraction of a second (PROTOCOL §5 steps 7–8: "now in seconds (fractions allowed)")', () => {
  const at = (ms: number) => ({ now: () => NOW + ms });
  it('age maxAge + skew is fresh at the whole second and expired half a second later', async () => {
    const token = () => signRaw(es.privateJwk, header(), claims({ iat: iat - 35 }));
    expect(reason(await verify(token(), {}, at(0)))).toBe('accepted');
    expect(reason(await verify(token(), {}, at(500)))).toBe('expired');
  });
  it('exp = now − skew is fresh at the whole second and expired half a second later', async () => {
    const token = () => signRaw(es.privateJwk, header(), claims({ iat: iat - 20, exp: iat - 5 }));
    expect(reason(await verify(token(), {}, at(0)))).toBe('accepted');
    expect(reason(await verify(token(), {}, at(500)))).toBe('expired');
  });
  it('iat = now + skew is fresh at the whole second and not yet valid half a second earlier', async () => {
    const token = () => signRaw(es.privateJwk, header(), claims({ iat: iat + 5 }));
    expect(reason(await verify(token(), {}, at(0)))).toBe('accepted');
    expect(reason(await verify(token(), {}, at(-500)))).toBe('not-yet-valid');
  });
});

describe('maxAge and skew are whole seconds, maxAge 1–86400 and skew 0–86400, both ends included (PROTOCOL §5)', () => {
  const make = (over: Partial<VerifierOptions>) => () => createVerifierCore({ keys: { keys: [es.publicJwk] }, replayStore: new MapReplayStore(), ...over });
  it.each([
    [{ maxAge: 1 }, { maxAge: 1 }],
    [{ maxAge: 86_400 }, { maxAge: 86_400 }],
    [{ skew: 0 }, { skew: 0 }],
    [{ skew: 86_400 }, { skew: 86_400 }],
    [{}, { maxAge: 30, skew: 5 }],
  ])('%o is taken as %o', (over, settings) => {
    expect(make(over)().settings).toMatchObject(settings);
  });
  it.each([{ maxAge: 0 }, { maxAge: 86_401 }, { skew: -1 }, { skew: 86_401 }, { maxAge: 30.5 }, { skew: '5' as unknown as number }])(
    '%o is refused',
    (over) => {
      expect(make(over)).toThrow(new RegExp(`^${Object.keys(over)[0]} must be a whole number of seconds`));
    },
  );
});
