#!/usr/bin/env node
/**
 * Writes the conformance vectors of docs/protocol.md: `node test/conformance/generate.mjs`.
 *
 * Every expected outcome below is stated by hand from the specification — the section and
 * step are named beside it — and never computed by running a verifier. This script only does
 * what a person cannot do by hand: sign tokens and hash tickets. It uses node:crypto alone
 * (no project code), so it cannot inherit a bug from the implementation it tests.
 *
 * Keys are generated once into keys.json and reused, so HMAC and EdDSA tokens come out
 * byte-identical on every run (ES256/ES384 signatures are randomized by nature).
 */
import { createHash, createHmac, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const KEYS_FILE = join(HERE, 'keys.json');
const OUT = join(HERE, 'vectors');

// ── fixed test keys ──────────────────────────────────────────────────────────────────────────
function newKeys() {
  const oct = (kid, alg, bytes = 32) => ({ kty: 'oct', kid, alg, k: randomBytes(bytes).toString('base64url') });
  const pair = (kid, alg, type, opts) => ({ ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }), kid, alg });
  return {
    comment: 'FIXED TEST KEYS for the conformance vectors. Public on purpose; never use them anywhere else.',
    'hs-1': oct('hs-1', 'HS256'),
    'hs-384': oct('hs-384', 'HS384', 48),
    'hs-allowed': oct('hs-allowed', 'HS256'),
    'ed-1': pair('ed-1', 'EdDSA', 'ed25519'),
    'es-1': pair('es-1', 'ES256', 'ec', { namedCurve: 'P-256' }),
    'es384-1': pair('es384-1', 'ES384', 'ec', { namedCurve: 'P-384' }),
    'attacker-hs': oct('hs-1', 'HS256'),
    'client-ed': pair('client-ed', 'EdDSA', 'ed25519'),
    'client-ec': pair('client-ec', 'ES256', 'ec', { namedCurve: 'P-256' }),
    'other-client-ed': pair('other-client-ed', 'EdDSA', 'ed25519'),
    'issuer-ed': pair('edge-1', 'EdDSA', 'ed25519'),
    'rogue-issuer-ed': pair('edge-1', 'EdDSA', 'ed25519'),
  };
}
if (!existsSync(KEYS_FILE)) writeFileSync(KEYS_FILE, `${JSON.stringify(newKeys(), null, 2)}\n`);
const K = JSON.parse(readFileSync(KEYS_FILE, 'utf8'));

const publicOf = (jwk) => {
  const { d: _d, ...rest } = jwk;
  return rest;
};
const bare = (jwk) => (jwk.kty === 'EC' ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x });
/** RFC 7638 thumbprint, members in lexicographic order. */
const thumbprint = (jwk) =>
  createHash('sha256')
    .update(JSON.stringify(jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
    .digest('base64url');
const sha256 = (data) => createHash('sha256').update(data).digest('base64url');

// ── signing any bytes, however hostile ───────────────────────────────────────────────────────
const seg = (part) => Buffer.from(typeof part === 'string' || part instanceof Uint8Array ? part : JSON.stringify(part)).toString('base64url');
function signWith(jwk, alg, input) {
  if (alg.startsWith('HS')) return createHmac(`sha${alg.slice(2)}`, Buffer.from(jwk.k, 'base64url')).update(input).digest();
  if (alg === 'none') return Buffer.alloc(0);
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  if (alg.startsWith('ES')) return sign(`sha${alg.slice(2)}`, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return sign(null, Buffer.from(input), key);
}
function jws(jwk, header, payload, signAs = typeof header === 'object' ? header.alg : jwk.alg) {
  const input = `${seg(header)}.${seg(payload)}`;
  return `${input}.${signWith(jwk, signAs, input).toString('base64url')}`;
}

// ── the scene ────────────────────────────────────────────────────────────────────────────────
const NOW = 1767225600; // 2026-01-01T00:00:00Z
const HOST = 'api.example.com';
const CLIENT = '203.0.113.7';
const OTHER = '203.0.113.66';
const PROXY = '198.51.100.10';
const PROXY2 = '198.51.100.11';
const PROXIES = ['198.51.100.0/24'];
const ISS = 'https://edge.example.com';
const HTU = `http://${HOST}/orders`;

let jtiCounter = 0;
const nextJti = () => `conformance-jti-${String(++jtiCounter).padStart(6, '0')}`;

const OPTIONS = {
  maxAge: 30,
  skew: 5,
  trustedProxies: [],
  forwardedHeader: 'x-forwarded-for',
  protocolHeader: 'x-forwarded-proto',
  onMismatch: 'reject',
  onUnverifiable: 'reject',
  onStoreError: 'reject',
  requireBodyDigest: false,
};
const VERIFIER_KEYS = { keys: ['hs-1', 'hs-384', 'ed-1', 'es-1', 'es384-1'].map((n) => publicOf(K[n])) };
VERIFIER_KEYS.keys.push({ ...K['hs-allowed'], allowed_ips: ['203.0.113.0/24', '2001:db8::/32'] });

const stampHeader = (over = {}) => ({ alg: 'HS256', typ: 'ipstamp+jwt', kid: 'hs-1', ...over });
const claims = (over = {}) => ({ ip: CLIENT, iat: NOW, jti: nextJti(), htm: 'GET', htu: HTU, ...over });
/** A stamp signed with the named key (its kid and alg unless the header says otherwise). */
function stamp({ key = 'hs-1', header = {}, claims: c = claims(), signAs } = {}) {
  const jwk = K[key];
  const h = typeof header === 'string' ? header : stampHeader({ alg: jwk.alg, kid: jwk.kid, ...header });
  return jws(jwk, h, c, signAs ?? (typeof h === 'string' ? jwk.alg : h.alg));
}

const reject = (reason, status) => ({ ok: false, reason, status });
const STATUS = {
  missing: 401, malformed: 401, 'bad-header': 401, 'bad-ticket': 401, 'unknown-key': 401, 'bad-signature': 401,
  'bad-claims': 401, 'not-yet-valid': 401, expired: 401, 'binding-mismatch': 401, replay: 401,
  'ip-not-allowed': 403, 'ip-mismatch': 403, 'ip-unverifiable': 403, 'store-unavailable': 503,
};
const refused = (reason) => reject(reason, STATUS[reason]);
const accepted = (fields) => ({ ok: true, source: 'stamp', ...fields });

/**
 * One vector. `token` is the stamp (or an array of instances); claims default to the scene's.
 * Everything not given takes the scene's value, and is written out in full.
 */
function vector({ id, spec, description, token, extraHeaders = {}, request = {}, connection = {}, options = {}, replay = {}, expect, keys = VERIFIER_KEYS, now = NOW }) {
  const headers = { host: HOST, ...(token === undefined ? {} : { 'client-ip-attestation': token }), ...extraHeaders };
  for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
  return {
    id,
    spec,
    description,
    ...(keys === VERIFIER_KEYS ? {} : { keys }),
    options: { ...OPTIONS, ...options },
    now,
    request: { method: 'GET', target: '/orders?id=1', required: true, ...request, headers: { ...headers, ...(request.headers ?? {}) } },
    connection: { l3: CLIENT, tls: false, ...connection },
    replay: { available: true, seen: [], ...replay },
    expect,
  };
}

// ══ §5: the stamp, step by step ══════════════════════════════════════════════════════════════
const S = [];
const okMatch = (c, kid = 'hs-1') => accepted({ ip: c.ip, agreement: 'match', kid, jti: c.jti, iat: c.iat, observed: CLIENT });

{
  const c = claims();
  S.push(vector({ id: 'stamp-00-valid-hs256', spec: '§5', description: 'A valid HS256 stamp from a directly connected client: accepted, agreement match.', token: stamp({ claims: c }), expect: okMatch(c) }));
}
for (const key of ['hs-384', 'ed-1', 'es-1', 'es384-1']) {
  const c = claims();
  S.push(vector({ id: `stamp-00-valid-${K[key].alg.toLowerCase()}`, spec: '§2.1, §5', description: `A valid ${K[key].alg} stamp: accepted.`, token: stamp({ key, claims: c }), expect: okMatch(c, K[key].kid) }));
}
S.push(vector({ id: 'stamp-01-missing', spec: '§5 step 1', description: 'No Client-IP-Attestation header on a route that requires one.', token: undefined, expect: refused('missing') }));
S.push(vector({ id: 'stamp-01-not-required', spec: '§5 step 1', description: 'No stamp on a route that does not require one: passed through without a verdict.', token: undefined, request: { required: false }, expect: { ok: true, verdict: null } }));
{
  const good = () => stamp();
  const big = stamp({ header: { pad: 'x'.repeat(3100) } });
  const cases = [
    ['two-instances', 'The header sent twice (two field lines).', [good(), good()]],
    ['joined-instances', 'Two values joined into one field line with a comma.', `${good()}, ${good()}`],
    ['too-long', `A correctly signed stamp of ${big.length} bytes (> 4096).`, big],
    ['two-segments', 'Only two segments.', good().split('.').slice(0, 2).join('.')],
    ['four-segments', 'Four segments.', `${good()}.AAAA`],
    ['bad-alphabet', 'A "+" (base64, not base64url) in the payload segment.', good().replace('.', '.+')],
    ['padding', 'base64url with "=" padding.', `${good()}=`],
    ['empty-header-segment', 'An empty JOSE header segment.', `.${good().split('.')[1]}.AAAA`],
    ['impossible-length', 'A segment whose length (4n+1) no base64url text can have.', 'AAAAA.AAAA.AAAA'],
  ];
  for (const [name, description, token] of cases) S.push(vector({ id: `stamp-02-malformed-${name}`, spec: '§5 step 2', description, token, expect: refused('malformed') }));
}
{
  const cases = [
    ['alg-none', 'alg "none".', { alg: 'none' }, 'none'],
    ['alg-rs256', 'alg RS256 (not in the list).', { alg: 'RS256' }, 'HS256'],
    ['typ-jwt', 'typ "JWT" instead of "ipstamp+jwt".', { typ: 'JWT' }],
    ['typ-missing', 'No typ.', { typ: undefined }],
    ['kid-missing', 'No kid.', { kid: undefined }],
    ['kid-bad-chars', 'A kid with a character outside [A-Za-z0-9._:-].', { kid: 'hs/1' }],
    ['kid-too-long', 'A kid of 129 characters.', { kid: 'k'.repeat(129) }],
    ['crit', 'A crit member.', { crit: ['exp'] }],
    ['jku', 'A jku member (keys are never taken from a token).', { jku: 'https://attacker.example/jwks' }],
    ['jwk', 'A jwk member on a stamp.', { jwk: bare(K['client-ed']) }],
    ['x5c', 'An x5c member.', { x5c: ['MIIB'] }],
    ['b64', 'A b64 member.', { b64: false }],
    ['zip', 'A zip member.', { zip: 'DEF' }],
  ];
  for (const [name, description, over, signAs] of cases) {
    const header = stampHeader(over);
    for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
    S.push(vector({ id: `stamp-03-bad-header-${name}`, spec: '§2.1, §5 step 3', description, token: jws(K['hs-1'], header, claims(), signAs ?? 'HS256'), expect: refused('bad-header') }));
  }
  const dup = '{"alg":"HS256","typ":"ipstamp+jwt","kid":"hs-1","kid":"ed-1"}';
  S.push(vector({ id: 'stamp-03-bad-header-duplicate-member', spec: '§2.1, §5 step 3', description: 'A JOSE header that names kid twice.', token: jws(K['hs-1'], dup, claims(), 'HS256'), expect: refused('bad-header') }));
  S.push(vector({ id: 'stamp-03-bad-header-not-json', spec: '§2.1, §5 step 3', description: 'A JOSE header segment that is base64url but not JSON.', token: jws(K['hs-1'], 'not json', claims(), 'HS256'), expect: refused('bad-header') }));
  S.push(vector({ id: 'stamp-03-bad-header-array', spec: '§2.1, §5 step 3', description: 'A JOSE header that is a JSON array.', token: jws(K['hs-1'], '["HS256"]', claims(), 'HS256'), expect: refused('bad-header') }));
  const unknownOk = claims();
  S.push(vector({ id: 'stamp-03-unknown-member-ignored', spec: '§2.1', description: 'An unknown JOSE header member is ignored.', token: stamp({ header: { x_note: 'hello' }, claims: unknownOk }), expect: okMatch(unknownOk) }));
}
S.push(vector({ id: 'stamp-04-unknown-key', spec: '§5 step 4', description: 'A kid the verifier has no key for.', token: jws(K['hs-1'], stampHeader({ kid: 'nobody' }), claims()), expect: refused('unknown-key') }));
{
  const t = stamp();
  const flipped = t.slice(0, -2) + (t.at(-2) === 'A' ? 'B' : 'A') + t.at(-1);
  S.push(vector({ id: 'stamp-05-bad-signature-tampered', spec: '§5 step 5', description: 'The signature changed in one character.', token: flipped, expect: refused('bad-signature') }));
  S.push(vector({ id: 'stamp-05-bad-signature-other-secret', spec: '§5 step 5', description: 'Signed with another secret under the same kid.', token: stamp({ key: 'attacker-hs' }), expect: refused('bad-signature') }));
  S.push(vector({ id: 'stamp-05-bad-signature-alg-not-the-keys', spec: '§2.1, §5 step 5', description: "HS384 named in the header, signed with HS384 over kid hs-1's secret, whose key is pinned to HS256.", token: stamp({ header: { alg: 'HS384' } }), expect: refused('bad-signature') }));
  S.push(vector({ id: 'stamp-05-bad-signature-ed25519-for-eddsa-key', spec: '§2.1, §5 step 5', description: 'alg "Ed25519" in the header for a key whose alg is "EdDSA": the names must be equal.', token: stamp({ key: 'ed-1', header: { alg: 'Ed25519' } }), expect: refused('bad-signature') }));
  S.push(vector({ id: 'stamp-05-bad-signature-empty', spec: '§5 step 5', description: 'An empty signature segment.', token: `${t.split('.').slice(0, 2).join('.')}.`, expect: refused('bad-signature') }));
  S.push(vector({ id: 'stamp-05-before-claims', spec: '§5 steps 5–6', description: 'Bad claims and a bad signature: the signature is checked first.', token: (() => { const b = stamp({ claims: claims({ ip: '010.0.0.1' }) }); return `${b.slice(0, -4)}AAAA`; })(), expect: refused('bad-signature') }));
}
{
  const c = (over) => {
    const x = claims(over);
    for (const k of Object.keys(x)) if (x[k] === undefined) delete x[k];
    return x;
  };
  const cases = [
    ['ip-missing', 'No ip claim.', c({ ip: undefined })],
    ['ip-leading-zero', 'ip "010.0.0.1" (leading zero, never octal).', c({ ip: '010.0.0.1' })],
    ['ip-v4-mapped', 'ip written IPv4-mapped ("::ffff:203.0.113.7"); a claim must use the IPv4 form.', c({ ip: '::ffff:203.0.113.7' })],
    ['ip-v6-not-rfc5952', 'ip "2001:DB8:0:0::1" (not RFC 5952 text).', c({ ip: '2001:DB8:0:0::1' })],
    ['ip-zone', 'ip with a zone id.', c({ ip: 'fe80::1%eth0' })],
    ['ip-unspecified', 'ip "0.0.0.0".', c({ ip: '0.0.0.0' })],
    ['ip-with-port', 'ip "203.0.113.7:443".', c({ ip: '203.0.113.7:443' })],
    ['iat-string', 'iat as a string.', c({ iat: String(NOW) })],
    ['iat-fraction', 'iat with a fraction.', c({ iat: NOW + 0.5 })],
    ['iat-missing', 'No iat.', c({ iat: undefined })],
    ['jti-short', 'jti of 21 characters.', c({ jti: 'a'.repeat(21) })],
    ['jti-long', 'jti of 65 characters.', c({ jti: 'a'.repeat(65) })],
    ['jti-not-base64url', 'jti with "+".', c({ jti: `${'a'.repeat(21)}+` })],
    ['htm-lower-case', 'htm "get".', c({ htm: 'get' })],
    ['htu-with-query', 'htu carrying a query.', c({ htu: `${HTU}?id=1` })],
    ['htu-not-http', 'htu with scheme ftp.', c({ htu: `ftp://${HOST}/orders` })],
    ['htu-no-path', 'htu without a path.', c({ htu: `http://${HOST}` })],
    ['exp-not-after-iat', 'exp equal to iat.', c({ exp: NOW })],
    ['exp-beyond-max-age', 'exp = iat + maxAge + 1.', c({ exp: NOW + 31 })],
    ['obs-unknown', 'obs "guess".', c({ obs: 'guess' })],
    ['cdg-not-sha256', 'cdg that is not 43 base64url characters.', c({ cdg: 'abc' })],
    ['tth-without-ticket', 'tth on a stamp that comes with no ticket.', c({ tth: sha256('x') })],
    ['string-too-long', 'An htu longer than 2048 characters.', c({ htu: `http://${HOST}/${'a'.repeat(2048)}` })],
  ];
  for (const [name, description, cl] of cases) S.push(vector({ id: `stamp-06-bad-claims-${name}`, spec: '§2.2, §5 step 6', description, token: stamp({ claims: cl }), expect: refused('bad-claims') }));
  const j = nextJti();
  S.push(vector({ id: 'stamp-06-bad-claims-duplicate-member', spec: '§2.2, §5 step 6', description: 'Claims that name ip twice.', token: jws(K['hs-1'], stampHeader(), `{"ip":"${OTHER}","iat":${NOW},"jti":"${j}","htm":"GET","htu":"${HTU}","ip":"${CLIENT}"}`, 'HS256'), expect: refused('bad-claims') }));
  S.push(vector({ id: 'stamp-06-bad-claims-array', spec: '§2.2, §5 step 6', description: 'A payload that is a JSON array.', token: jws(K['hs-1'], stampHeader(), '[1]', 'HS256'), expect: refused('bad-claims') }));
  S.push(vector({ id: 'stamp-06-bad-claims-not-utf8', spec: '§2.2, §5 step 6', description: 'A payload that is not valid UTF-8.', token: jws(K['hs-1'], stampHeader(), Buffer.from([0x7b, 0xff, 0x7d]), 'HS256'), expect: refused('bad-claims') }));
  const extra = claims({ note: 'unknown claims are ignored', obs: 'echo' });
  S.push(vector({ id: 'stamp-06-unknown-claim-ignored', spec: '§2.2', description: 'An unknown claim is ignored; obs "echo" is allowed.', token: stamp({ claims: extra }), expect: okMatch(extra) }));
  const expOk = claims({ exp: NOW + 30 });
  S.push(vector({ id: 'stamp-06-exp-at-max-age', spec: '§2.2', description: 'exp = iat + maxAge exactly: allowed.', token: stamp({ claims: expOk }), expect: okMatch(expOk) }));
  const v6 = claims({ ip: '2001:db8::7' });
  S.push(vector({ id: 'stamp-06-ipv6-claim', spec: '§3', description: 'An RFC 5952 IPv6 claim from an IPv6 peer written in another form.', token: stamp({ claims: v6 }), connection: { l3: '2001:DB8:0:0:0:0:0:7' }, expect: { ...okMatch(v6), observed: '2001:db8::7' } }));
}
{
  const future = claims({ iat: NOW + 6 });
  S.push(vector({ id: 'stamp-07-not-yet-valid', spec: '§5 step 7', description: 'iat = now + skew + 1.', token: stamp({ claims: future }), expect: refused('not-yet-valid') }));
  const edge = claims({ iat: NOW + 5 });
  S.push(vector({ id: 'stamp-07-iat-at-skew', spec: '§5 step 7', description: 'iat = now + skew exactly: accepted.', token: stamp({ claims: edge }), expect: okMatch(edge) }));
  const old = claims({ iat: NOW - 36 });
  S.push(vector({ id: 'stamp-08-expired-age', spec: '§5 step 8', description: 'now − iat = maxAge + skew + 1.', token: stamp({ claims: old }), expect: refused('expired') }));
  const oldest = claims({ iat: NOW - 35 });
  S.push(vector({ id: 'stamp-08-age-at-limit', spec: '§5 step 8', description: 'now − iat = maxAge + skew exactly: accepted.', token: stamp({ claims: oldest }), expect: okMatch(oldest) }));
  const expPast = claims({ iat: NOW - 20, exp: NOW - 6 });
  S.push(vector({ id: 'stamp-08-expired-exp', spec: '§5 step 8', description: 'exp = now − skew − 1 (iat young enough).', token: stamp({ claims: expPast }), expect: refused('expired') }));
  const expEdge = claims({ iat: NOW - 20, exp: NOW - 5 });
  S.push(vector({ id: 'stamp-08-exp-at-limit', spec: '§5 step 8', description: 'exp = now − skew exactly: "exp ≥ now − skew" holds, accepted.', token: stamp({ claims: expEdge }), expect: okMatch(expEdge) }));
  const both = claims({ iat: NOW + 60, htm: 'POST' });
  S.push(vector({ id: 'stamp-07-before-binding', spec: '§5 steps 7, 9', description: 'Not yet valid and bound to another method: step 7 comes first.', token: stamp({ claims: both }), expect: refused('not-yet-valid') }));
}
{
  S.push(vector({ id: 'stamp-09-binding-method', spec: '§5 step 9', description: 'htm POST on a GET request.', token: stamp({ claims: claims({ htm: 'POST' }) }), expect: refused('binding-mismatch') }));
  S.push(vector({ id: 'stamp-09-binding-path', spec: '§5 step 9', description: 'htu names another path.', token: stamp({ claims: claims({ htu: `http://${HOST}/admin` }) }), expect: refused('binding-mismatch') }));
  S.push(vector({ id: 'stamp-09-binding-path-prefix', spec: '§5 step 9', description: 'htu path is a prefix of the request path.', token: stamp({ claims: claims({ htu: `http://${HOST}/order` }) }), expect: refused('binding-mismatch') }));
  S.push(vector({ id: 'stamp-09-binding-host', spec: '§5 step 9', description: 'htu names another host than the Host header.', token: stamp({ claims: claims({ htu: 'http://evil.example.com/orders' }) }), expect: refused('binding-mismatch') }));
  S.push(vector({ id: 'stamp-09-binding-port', spec: '§5 step 9', description: 'Host carries port 8080, htu names none.', token: stamp(), request: { headers: { host: `${HOST}:8080` } }, expect: refused('binding-mismatch') }));
  const port = claims({ htu: `http://${HOST}:8080/orders` });
  S.push(vector({ id: 'stamp-09-host-with-port', spec: '§2.2, §5 step 9', description: 'Host and htu both carry port 8080: accepted.', token: stamp({ claims: port }), request: { headers: { host: `${HOST}:8080` } }, expect: okMatch(port) }));
  const upper = claims();
  S.push(vector({ id: 'stamp-09-host-case', spec: '§2.2, §5 step 9', description: 'Host written in upper case; htu (lower case) still matches.', token: stamp({ claims: upper }), request: { headers: { host: 'API.Example.COM' } }, expect: okMatch(upper) }));
  S.push(vector({ id: 'stamp-09-binding-scheme', spec: '§5 step 9, §5.1', description: 'htu says https; the connection is plain HTTP and nothing else gives evidence of TLS.', token: stamp({ claims: claims({ htu: `https://${HOST}/orders` }) }), expect: refused('binding-mismatch') }));
  const body = '{"item":42}';
  const withCdg = claims({ htm: 'POST', cdg: sha256(body) });
  S.push(vector({ id: 'stamp-09-body-digest', spec: '§2.2, §5 step 9', description: 'POST with a body and its digest: accepted.', token: stamp({ claims: withCdg }), request: { method: 'POST', body: { text: body } }, expect: okMatch(withCdg) }));
  S.push(vector({ id: 'stamp-09-binding-body', spec: '§5 step 9', description: 'cdg over another body.', token: stamp({ claims: claims({ htm: 'POST', cdg: sha256('{"item":43}') }) }), request: { method: 'POST', body: { text: body } }, expect: refused('binding-mismatch') }));
  const bin = Buffer.from([0, 1, 2, 0xff, 0xfe]);
  const binC = claims({ htm: 'PUT', cdg: sha256(bin) });
  S.push(vector({ id: 'stamp-09-body-digest-binary', spec: '§2.2, §5 step 9', description: 'A binary body (base64 in the vector), digest over its exact bytes.', token: stamp({ claims: binC }), request: { method: 'PUT', body: { base64: bin.toString('base64') } }, expect: okMatch(binC) }));
  const emptyC = claims({ cdg: sha256('') });
  S.push(vector({ id: 'stamp-09-body-digest-empty', spec: '§2.2, §5 step 9', description: 'cdg of the empty body on a request without a body.', token: stamp({ claims: emptyC }), expect: okMatch(emptyC) }));
  S.push(vector({ id: 'stamp-09-binding-body-required', spec: '§2.2, §5 step 9', description: 'requireBodyDigest and a stamp without cdg.', token: stamp({ claims: claims({ htm: 'POST' }) }), request: { method: 'POST', body: { text: body } }, options: { requireBodyDigest: true }, expect: refused('binding-mismatch') }));
}
// §5.1 the scheme of htu, from trusted evidence
{
  const https = () => claims({ htu: `https://${HOST}/orders` });
  const viaProxy = { l3: PROXY };
  let c = https();
  S.push(vector({ id: 'scheme-connection-tls', spec: '§5.1 (4)', description: 'The connection itself is TLS: htu https matches.', token: stamp({ claims: c }), connection: { tls: true }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-connection-tls-http-htu', spec: '§5.1 (4)', description: 'The connection is TLS, htu says http: mismatch.', token: stamp(), connection: { tls: true }, expect: refused('binding-mismatch') }));
  c = https();
  S.push(vector({ id: 'scheme-origins-win', spec: '§5.1 (1)', description: 'origins configured: htu https://api.example.com matches over a plain connection.', token: stamp({ claims: c }), options: { origins: [`https://${HOST}`] }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-origins-exclusive', spec: '§5.1 (1)', description: 'origins configured: an htu origin outside them is refused even when Host and the connection agree with it.', token: stamp(), options: { origins: [`https://${HOST}`] }, expect: refused('binding-mismatch') }));
  S.push(vector({ id: 'scheme-origins-ignore-host', spec: '§5.1 (1)', description: 'origins configured: the Host header plays no part (Host names another host).', token: stamp({ claims: (c = https()) }), request: { headers: { host: 'internal.local:8080' } }, options: { origins: [`https://${HOST}`] }, expect: okMatch(c) }));
  c = https();
  S.push(vector({ id: 'scheme-proxy-ssl-tlv', spec: '§5.1 (2)', description: 'A trusted proxy sent PROXY v2 with PP2_TYPE_SSL, client bit 0x01: the client used TLS.', token: stamp({ claims: c }), connection: { l3: PROXY, l4: CLIENT, proxySsl: { client: 1, verify: 0 } }, options: { trustedProxies: PROXIES }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-proxy-ssl-tlv-no-ssl-bit', spec: '§5.1 (2)', description: 'PP2_TYPE_SSL present but client bit 0x01 clear: the client connection to the proxy was not TLS, so http.', token: stamp({ claims: https() }), connection: { l3: PROXY, l4: CLIENT, proxySsl: { client: 0, verify: 0 } }, options: { trustedProxies: PROXIES }, expect: refused('binding-mismatch') }));
  c = claims();
  S.push(vector({ id: 'scheme-proxy-ssl-tlv-http-htu', spec: '§5.1 (2)', description: 'The PROXY SSL TLV says TLS; an htu with http is then refused.', token: stamp({ claims: c }), connection: { l3: PROXY, l4: CLIENT, proxySsl: { client: 1, verify: 0 } }, options: { trustedProxies: PROXIES }, expect: refused('binding-mismatch') }));
  c = https();
  S.push(vector({ id: 'scheme-xfp-trusted', spec: '§5.1 (3)', description: 'X-Forwarded-Proto: https from a trusted immediate peer.', token: stamp({ claims: c }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'https' }, options: { trustedProxies: PROXIES }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-xfp-untrusted', spec: '§5.1 (3)', description: 'X-Forwarded-Proto: https sent by an untrusted client straight to the verifier: ignored.', token: stamp({ claims: https() }), extraHeaders: { 'x-forwarded-proto': 'https' }, options: { trustedProxies: PROXIES }, expect: refused('binding-mismatch') }));
  c = claims();
  S.push(vector({ id: 'scheme-xfp-untrusted-http-htu', spec: '§5.1 (3)', description: 'An untrusted X-Forwarded-Proto: https does not disturb an http stamp.', token: stamp({ claims: c }), extraHeaders: { 'x-forwarded-proto': 'https' }, options: { trustedProxies: PROXIES }, expect: okMatch(c) }));
  c = https();
  S.push(vector({ id: 'scheme-xfp-rightmost-wins', spec: '§5.1 (3)', description: 'Two instances (client wrote "http", the trusted proxy appended "https"): the rightmost wins.', token: stamp({ claims: c }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': ['http', 'https'] }, options: { trustedProxies: PROXIES }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-xfp-client-left-ignored', spec: '§5.1 (3)', description: 'One instance "https, http": the client wrote https on the left, the trusted proxy appended http.', token: stamp({ claims: https() }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'https, http' }, options: { trustedProxies: PROXIES }, expect: refused('binding-mismatch') }));
  c = https();
  S.push(vector({ id: 'scheme-xfp-case-insensitive', spec: '§5.1 (3)', description: 'X-Forwarded-Proto: HTTPS (scheme names are case-insensitive).', token: stamp({ claims: c }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'HTTPS' }, options: { trustedProxies: PROXIES }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-xfp-invalid-falls-back', spec: '§5.1 (3)', description: 'X-Forwarded-Proto: "wss" is no evidence; the connection (http) decides.', token: stamp({ claims: https() }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'wss' }, options: { trustedProxies: PROXIES }, expect: refused('binding-mismatch') }));
  S.push(vector({ id: 'scheme-forwarded-proto-not-configured', spec: '§5.1 (3)', description: 'Forwarded: proto=https from a trusted peer while the protocol header is X-Forwarded-Proto: not read.', token: stamp({ claims: https() }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, forwarded: `for=${CLIENT};proto=https` }, options: { trustedProxies: PROXIES }, expect: refused('binding-mismatch') }));
  c = https();
  S.push(vector({ id: 'scheme-forwarded-proto', spec: '§5.1 (3)', description: 'protocolHeader "forwarded": proto= of the rightmost element, from a trusted peer.', token: stamp({ claims: c }), connection: viaProxy, extraHeaders: { forwarded: `for=${CLIENT};proto=https` }, options: { trustedProxies: PROXIES, forwardedHeader: 'forwarded', protocolHeader: 'forwarded' }, expect: okMatch(c) }));
  S.push(vector({ id: 'scheme-forwarded-proto-client-left', spec: '§5.1 (3)', description: 'protocolHeader "forwarded": the client wrote proto=https on the left; the trusted proxy\'s element (rightmost) says http.', token: stamp({ claims: https() }), connection: viaProxy, extraHeaders: { forwarded: `for=${OTHER};proto=https, for=${CLIENT};proto=http` }, options: { trustedProxies: PROXIES, forwardedHeader: 'forwarded', protocolHeader: 'forwarded' }, expect: refused('binding-mismatch') }));
  c = https();
  S.push(vector({ id: 'scheme-origins-before-proxy-evidence', spec: '§5.1 (1)', description: 'origins configured (https) and a trusted X-Forwarded-Proto: http: origins win.', token: stamp({ claims: c }), connection: viaProxy, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'http' }, options: { trustedProxies: PROXIES, origins: [`https://${HOST}`] }, expect: okMatch(c) }));
  c = https();
  S.push(vector({ id: 'scheme-tlv-before-header', spec: '§5.1 (2)', description: 'PROXY SSL TLV (TLS) and a trusted X-Forwarded-Proto: http on the same request: the TLV wins.', token: stamp({ claims: c }), connection: { l3: PROXY, l4: PROXY2, proxySsl: { client: 1, verify: 0 } }, extraHeaders: { 'x-forwarded-for': CLIENT, 'x-forwarded-proto': 'http' }, options: { trustedProxies: PROXIES }, expect: okMatch(c) }));
}
{
  const seenJti = nextJti();
  S.push(vector({ id: 'stamp-10-replay', spec: '§5 step 10', description: '(kid, jti) already seen.', token: stamp({ claims: claims({ jti: seenJti }) }), replay: { seen: [{ kid: 'hs-1', jti: seenJti }] }, expect: refused('replay') }));
  const otherKid = nextJti();
  const c = claims({ jti: otherKid });
  S.push(vector({ id: 'stamp-10-same-jti-other-kid', spec: '§5 step 10', description: 'The jti was seen under another kid: a different pair, accepted.', token: stamp({ claims: c }), replay: { seen: [{ kid: 'ed-1', jti: otherKid }] }, expect: okMatch(c) }));
  const before = nextJti();
  S.push(vector({ id: 'stamp-10-replay-before-ip', spec: '§5 steps 10, 12', description: 'A replayed stamp that also disagrees with the network: step 10 answers first.', token: stamp({ claims: claims({ jti: before, ip: OTHER }) }), replay: { seen: [{ kid: 'hs-1', jti: before }] }, expect: refused('replay') }));
  const ttl = claims();
  S.push(vector({ id: 'stamp-10-ttl', spec: '§5 step 10', description: 'The pair is remembered until at least iat + maxAge + 2·skew (iat = now here: now + 40 s).', token: stamp({ claims: ttl }), expect: { ...okMatch(ttl), remembers: [{ kid: 'hs-1', jti: ttl.jti, untilAtLeast: NOW + 30 + 2 * 5 }] } }));
  const ttlFuture = claims({ iat: NOW + 4 });
  S.push(vector({ id: 'stamp-10-ttl-future-iat', spec: '§5 step 10', description: 'iat 4 s ahead of this clock: remembered until at least iat + maxAge + 2·skew = now + 44 s.', token: stamp({ claims: ttlFuture }), expect: { ...okMatch(ttlFuture), remembers: [{ kid: 'hs-1', jti: ttlFuture.jti, untilAtLeast: NOW + 4 + 30 + 10 }] } }));
  const consumed = claims({ ip: OTHER });
  S.push(vector({ id: 'stamp-10-consumed-on-mismatch', spec: '§5 step 10', description: 'A stamp refused at step 12 has still consumed its jti.', token: stamp({ claims: consumed }), expect: { ...refused('ip-mismatch'), remembers: [{ kid: 'hs-1', jti: consumed.jti }] } }));
  const down = claims({ ip: OTHER });
  S.push(vector({ id: 'store-unavailable-unreachable', spec: '§5 store row', description: 'The replay store cannot answer (outage), onStoreError reject.', token: stamp({ claims: down }), replay: { available: false }, expect: refused('store-unavailable') }));
  const downOk = claims();
  S.push(vector({ id: 'store-unavailable-outage-accept', spec: '§5 store row', description: 'Outage with onStoreError "accept": the documented loosening accepts, without a replay check.', token: stamp({ claims: downOk }), replay: { available: false }, options: { onStoreError: 'accept' }, expect: { ...okMatch(downOk), replayChecked: false } }));
  const fullSeen = nextJti();
  const full = claims();
  S.push(vector({ id: 'store-unavailable-full', spec: '§5 store row', description: 'The store holds as many live pairs as it can (capacity 1, one seen): full.', token: stamp({ claims: full }), replay: { capacity: 1, seen: [{ kid: 'ed-1', jti: fullSeen }] }, expect: refused('store-unavailable') }));
  const full2 = claims();
  S.push(vector({ id: 'store-unavailable-full-despite-accept', spec: '§5 store row', description: 'A full store with onStoreError "accept": still store-unavailable (capacity is not an outage).', token: stamp({ claims: full2 }), replay: { capacity: 1, seen: [{ kid: 'ed-1', jti: nextJti() }] }, options: { onStoreError: 'accept' }, expect: refused('store-unavailable') }));
}
{
  const inside = claims({ ip: CLIENT });
  S.push(vector({ id: 'stamp-11-allowed', spec: '§2.3, §5 step 11', description: 'ip inside the key\'s allowed_ips: accepted.', token: stamp({ key: 'hs-allowed', claims: inside }), expect: okMatch(inside, 'hs-allowed') }));
  S.push(vector({ id: 'stamp-11-ip-not-allowed', spec: '§2.3, §5 step 11', description: 'ip outside allowed_ips (and equal to the peer).', token: stamp({ key: 'hs-allowed', claims: claims({ ip: '192.0.2.9' }) }), connection: { l3: '192.0.2.9' }, expect: refused('ip-not-allowed') }));
  S.push(vector({ id: 'stamp-11-before-12', spec: '§5 steps 11–12', description: 'Outside allowed_ips and disagreeing with the network: step 11 answers.', token: stamp({ key: 'hs-allowed', claims: claims({ ip: '192.0.2.9' }) }), expect: refused('ip-not-allowed') }));
  S.push(vector({ id: 'stamp-12-ip-mismatch', spec: '§5 step 12', description: 'ip differs from the observed address.', token: stamp({ claims: claims({ ip: OTHER }) }), expect: refused('ip-mismatch') }));
  const flagged = claims({ ip: OTHER });
  S.push(vector({ id: 'stamp-12-flag', spec: '§5 step 12', description: 'onMismatch "flag": accepted, agreement mismatch.', token: stamp({ claims: flagged }), options: { onMismatch: 'flag' }, expect: accepted({ ip: OTHER, agreement: 'mismatch', kid: 'hs-1', jti: flagged.jti, iat: NOW, observed: CLIENT }) }));
  S.push(vector({ id: 'stamp-12p-unverifiable', spec: '§5 step 12′', description: 'Every hop trusted (peer is a trusted proxy, no forwarding header): observed undefined, onUnverifiable reject.', token: stamp(), connection: { l3: PROXY }, options: { trustedProxies: PROXIES }, expect: refused('ip-unverifiable') }));
  const acc = claims();
  S.push(vector({ id: 'stamp-12p-accept', spec: '§5 step 12′', description: 'The same with onUnverifiable accept: accepted, agreement unverifiable.', token: stamp({ claims: acc }), connection: { l3: PROXY }, options: { trustedProxies: PROXIES, onUnverifiable: 'accept' }, expect: accepted({ ip: CLIENT, agreement: 'unverifiable', kid: 'hs-1', jti: acc.jti, iat: NOW, observed: null }) }));
  const unknownL3 = [
    ['absent', undefined, 'l3 unknown (absent: the runtime reports undefined)'],
    ['null', null, 'l3 null'],
    ['v4-unspecified', '0.0.0.0', 'l3 "0.0.0.0"'],
    ['v6-unspecified', '::', 'l3 "::"'],
  ];
  for (const [name, l3, what] of unknownL3) {
    const connection = l3 === undefined ? { l3: undefined } : { l3 };
    S.push(vector({ id: `stamp-12p-unknown-l3-${name}-accept-policy`, spec: '§4 l3, §5 step 12′', description: `${what}, onUnverifiable accept and onMismatch flag: still ip-unverifiable.`, token: stamp({ claims: claims({ ip: OTHER }) }), connection, options: { onUnverifiable: 'accept', onMismatch: 'flag' }, expect: refused('ip-unverifiable') }));
    S.push(vector({ id: `stamp-12p-unknown-l3-${name}-reject-policy`, spec: '§4 l3, §5 step 12′', description: `${what}, default policies.`, token: stamp(), connection, expect: refused('ip-unverifiable') }));
  }
  S.push(vector({ id: 'stamp-12p-unknown-l3-with-trusted-xff', spec: '§4 l3', description: 'l3 unknown, an X-Forwarded-For naming the stamp\'s address and a trusting configuration: the forwarding header cannot be honoured without a known peer.', token: stamp(), connection: { l3: null }, extraHeaders: { 'x-forwarded-for': CLIENT }, options: { trustedProxies: ['0.0.0.0/0', '::/0'], onUnverifiable: 'accept' }, expect: refused('ip-unverifiable') }));
  S.push(vector({ id: 'stamp-12p-unknown-l3-earlier-step-wins', spec: '§5 order', description: 'l3 unknown and a bad signature: step 5 answers first.', token: stamp({ key: 'attacker-hs' }), connection: { l3: null }, options: { onUnverifiable: 'accept' }, expect: refused('bad-signature') }));
  const consumedUnknown = claims();
  S.push(vector({ id: 'stamp-12p-unknown-l3-consumes-jti', spec: '§5 steps 10, 12′', description: 'Refused for an unknown l3 after step 10: the jti is consumed.', token: stamp({ claims: consumedUnknown }), connection: { l3: '0.0.0.0' }, options: { onUnverifiable: 'accept' }, expect: { ...refused('ip-unverifiable'), remembers: [{ kid: 'hs-1', jti: consumedUnknown.jti }] } }));
}
// CORS preflight
{
  S.push(vector({ id: 'cors-preflight-not-checked', spec: '§5.2', description: 'OPTIONS with Origin and Access-Control-Request-Method, no stamp: not stamp-checked.', token: undefined, request: { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'client-ip-attestation' } }, expect: { ok: true, verdict: null } }));
  S.push(vector({ id: 'cors-options-without-acrm', spec: '§5.2', description: 'OPTIONS with Origin but no Access-Control-Request-Method is not a preflight: verified, and has no stamp.', token: undefined, request: { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } }, expect: refused('missing') }));
  S.push(vector({ id: 'cors-options-without-origin', spec: '§5.2', description: 'OPTIONS with Access-Control-Request-Method but no Origin is not a preflight.', token: undefined, request: { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } }, expect: refused('missing') }));
  S.push(vector({ id: 'cors-post-with-acrm-is-checked', spec: '§5.2', description: 'A POST carrying the preflight headers is not a preflight.', token: undefined, request: { method: 'POST', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } }, expect: refused('missing') }));
}

// ══ §4: network hints ═════════════════════════════════════════════════════════════════════════
const H = [];
/** Hints vectors loosen both policies so every outcome is a verdict that shows `observed`. */
function hint({ id, spec = '§4', description, ip = CLIENT, connection, headers = {}, options = {}, observed, l4 }) {
  const c = claims({ ip });
  const agreement = observed === null ? 'unverifiable' : observed === ip ? 'match' : 'mismatch';
  const expect = accepted({ ip, agreement, kid: 'hs-1', jti: c.jti, iat: NOW, observed });
  if (l4 !== undefined) expect.l4 = l4;
  return vector({ id, spec, description, token: stamp({ claims: c }), connection, extraHeaders: headers, options: { trustedProxies: PROXIES, onMismatch: 'flag', onUnverifiable: 'accept', ...options }, expect });
}
H.push(hint({ id: 'hints-l3-untrusted', description: 'An untrusted peer is the client.', connection: { l3: CLIENT }, observed: CLIENT }));
H.push(hint({ id: 'hints-l3-untrusted-xff-ignored', description: 'An untrusted peer\'s X-Forwarded-For is ignored.', connection: { l3: CLIENT }, headers: { 'x-forwarded-for': OTHER }, ip: OTHER, observed: CLIENT }));
H.push(hint({ id: 'hints-l4-from-untrusted-ignored', description: 'A PROXY source from an untrusted peer is not a hint (a real listener would have closed the connection).', connection: { l3: CLIENT, l4: OTHER }, ip: OTHER, observed: CLIENT, l4: null }));
H.push(hint({ id: 'hints-l4-from-trusted', description: 'A trusted peer\'s PROXY source is the client.', connection: { l3: PROXY, l4: CLIENT }, observed: CLIENT, l4: CLIENT }));
H.push(hint({ id: 'hints-l4-trusted-then-xff', description: 'l3 and l4 both trusted proxies: the forwarding header is honoured.', connection: { l3: PROXY, l4: PROXY2 }, headers: { 'x-forwarded-for': CLIENT }, observed: CLIENT }));
H.push(hint({ id: 'hints-l7-not-from-untrusted-l4', description: 'l3 trusted, l4 untrusted: the immediate peer is l4, so X-Forwarded-For is ignored.', connection: { l3: PROXY, l4: CLIENT }, headers: { 'x-forwarded-for': OTHER }, ip: OTHER, observed: CLIENT }));
H.push(hint({ id: 'hints-xff-trusted', description: 'A trusted peer\'s X-Forwarded-For names the client.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': CLIENT }, observed: CLIENT }));
H.push(hint({ id: 'hints-xff-forged-left', description: 'The client wrote an address on the left; the trusted proxy appended the real one.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `${OTHER}, ${CLIENT}` }, ip: OTHER, observed: CLIENT }));
H.push(hint({ id: 'hints-xff-skip-trusted', description: 'Trusted hops on the right are skipped.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `${CLIENT}, ${PROXY2}` }, observed: CLIENT }));
H.push(hint({ id: 'hints-xff-instances-in-order', description: 'Repeated X-Forwarded-For lines are joined in order.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': [OTHER, `${CLIENT}, ${PROXY2}`] }, observed: CLIENT }));
H.push(hint({ id: 'hints-xff-instances-order-matters', description: 'Repeated lines, the client\'s last: the rightmost untrusted is the last line\'s.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': [CLIENT, OTHER] }, ip: OTHER, observed: OTHER }));
H.push(hint({ id: 'hints-invalid-entry-stops-walk', description: 'An invalid entry ("unknown") between the trusted hops and any client: observed undefined.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `${CLIENT}, unknown` }, observed: null }));
H.push(hint({ id: 'hints-invalid-entry-beyond-client', description: 'An invalid entry left of the client does not matter.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `unknown, ${CLIENT}` }, observed: CLIENT }));
H.push(hint({ id: 'hints-invalid-garbage', description: 'Garbage entry next to the proxy.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `${CLIENT}, not-an-ip` }, observed: null }));
H.push(hint({ id: 'hints-invalid-empty-entry', description: 'An empty entry ("a, , b") is invalid.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `${CLIENT}, ` }, observed: null }));
H.push(hint({ id: 'hints-invalid-leading-zero', description: 'A hint with a leading zero ("203.000.113.7") is not an address.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': '203.000.113.7' }, observed: null }));
H.push(hint({ id: 'hints-invalid-unspecified', description: '"0.0.0.0" in a hint is never valid.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': '0.0.0.0' }, observed: null }));
H.push(hint({ id: 'hints-all-trusted', description: 'Every address trusted: observed undefined.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': PROXY2 }, observed: null }));
H.push(hint({ id: 'hints-trusted-no-header', description: 'A trusted peer and no forwarding header: observed undefined.', connection: { l3: PROXY }, observed: null }));
H.push(hint({ id: 'hints-v4-mapped-l3', description: 'l3 in IPv4-mapped form equals the IPv4 claim.', connection: { l3: `::ffff:${CLIENT}` }, observed: CLIENT }));
H.push(hint({ id: 'hints-v4-mapped-trusted-l3', description: 'A trusted proxy reported IPv4-mapped is trusted by its IPv4 range.', connection: { l3: `::ffff:${PROXY}` }, headers: { 'x-forwarded-for': CLIENT }, observed: CLIENT }));
H.push(hint({ id: 'hints-v4-mapped-xff', description: 'An IPv4-mapped X-Forwarded-For entry is the IPv4 address.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `::ffff:${CLIENT}` }, observed: CLIENT }));
H.push(hint({ id: 'hints-v4-mapped-trust-range', description: 'trustedProxies given as an IPv4-mapped range covers the IPv4 proxy.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': CLIENT }, options: { trustedProxies: ['::ffff:198.51.100.0/120'] }, observed: CLIENT }));
H.push(hint({ id: 'hints-port-v4', description: '"v4:port" is stripped to the address.', connection: { l3: PROXY }, headers: { 'x-forwarded-for': `${CLIENT}:5000` }, observed: CLIENT }));
H.push(hint({ id: 'hints-port-v6-brackets', description: '"[v6]:port" is stripped.', ip: '2001:db8::1', connection: { l3: PROXY }, headers: { 'x-forwarded-for': '[2001:db8::1]:443' }, observed: '2001:db8::1' }));
H.push(hint({ id: 'hints-brackets-v6', description: '"[v6]" is stripped.', ip: '2001:db8::1', connection: { l3: PROXY }, headers: { 'x-forwarded-for': '[2001:DB8::1]' }, observed: '2001:db8::1' }));
H.push(hint({ id: 'hints-zone-dropped', description: 'A zone id in a hint is dropped.', ip: 'fe80::1', connection: { l3: 'fe80::1%eth0' }, observed: 'fe80::1' }));
H.push(hint({ id: 'hints-v6-canonical', description: 'An IPv6 peer in long form compares in RFC 5952 form.', ip: '2001:db8::7', connection: { l3: '2001:0db8:0000:0000:0000:0000:0000:0007' }, observed: '2001:db8::7' }));
H.push(hint({ id: 'hints-forwarded', description: 'forwardedHeader "forwarded": the for= of each element, RFC 7239 quoted IPv6 with port.', ip: '2001:db8::1', connection: { l3: PROXY }, headers: { forwarded: `for=${OTHER};proto=https, for="[2001:db8::1]:4711"` }, options: { forwardedHeader: 'forwarded' }, observed: '2001:db8::1' }));
H.push(hint({ id: 'hints-forwarded-case', description: 'Forwarded parameter names are case-insensitive.', connection: { l3: PROXY }, headers: { forwarded: `For=${CLIENT}` }, options: { forwardedHeader: 'forwarded' }, observed: CLIENT }));
H.push(hint({ id: 'hints-forwarded-stray-quote', description: 'A stray quote written by the client does not swallow the element the trusted proxy appended.', connection: { l3: PROXY }, headers: { forwarded: `for="${OTHER}, for=${CLIENT}` }, options: { forwardedHeader: 'forwarded' }, observed: CLIENT }));
H.push(hint({ id: 'hints-forwarded-unknown', description: 'for=unknown next to the proxy: invalid entry, observed undefined.', connection: { l3: PROXY }, headers: { forwarded: `for=${CLIENT}, for=unknown` }, options: { forwardedHeader: 'forwarded' }, observed: null }));
H.push(hint({ id: 'hints-forwarded-obfuscated', description: 'for=_hidden: invalid entry.', connection: { l3: PROXY }, headers: { forwarded: 'for=_hidden' }, options: { forwardedHeader: 'forwarded' }, observed: null }));
H.push(hint({ id: 'hints-forwarded-no-for', description: 'An element without for=: invalid entry.', connection: { l3: PROXY }, headers: { forwarded: `for=${CLIENT}, by=${PROXY}` }, options: { forwardedHeader: 'forwarded' }, observed: null }));
H.push(hint({ id: 'hints-forwarded-malformed', description: 'A malformed element ("for") next to the proxy: invalid entry.', connection: { l3: PROXY }, headers: { forwarded: `for=${CLIENT}, for` }, options: { forwardedHeader: 'forwarded' }, observed: null }));
H.push(hint({ id: 'hints-only-configured-header-xff', description: 'Configured X-Forwarded-For; a Forwarded header from the trusted peer is never read.', connection: { l3: PROXY }, headers: { forwarded: `for=${CLIENT}` }, observed: null }));
H.push(hint({ id: 'hints-only-configured-header-forwarded', description: 'Configured Forwarded; an X-Forwarded-For is never read, even to the right.', connection: { l3: PROXY }, headers: { forwarded: `for=${CLIENT}`, 'x-forwarded-for': OTHER }, options: { forwardedHeader: 'forwarded' }, observed: CLIENT }));
H.push(hint({ id: 'hints-single-address-header', description: 'forwardedHeader "x-real-ip": one instance, one address.', connection: { l3: PROXY }, headers: { 'x-real-ip': CLIENT }, options: { forwardedHeader: 'x-real-ip' }, observed: CLIENT }));
H.push(hint({ id: 'hints-single-address-two-instances', description: 'Two instances of a single-address header: invalid.', connection: { l3: PROXY }, headers: { 'x-real-ip': [OTHER, CLIENT] }, options: { forwardedHeader: 'x-real-ip' }, observed: null }));
H.push(hint({ id: 'hints-single-address-list', description: 'A list in a single-address header: invalid.', connection: { l3: PROXY }, headers: { 'x-real-ip': `${OTHER}, ${CLIENT}` }, options: { forwardedHeader: 'x-real-ip' }, observed: null }));
H.push(hint({ id: 'hints-no-trusted-proxies', description: 'No trustedProxies at all: every forwarding header and PROXY source is ignored.', connection: { l3: PROXY, l4: OTHER }, headers: { 'x-forwarded-for': OTHER }, options: { trustedProxies: [] }, ip: PROXY, observed: PROXY, l4: null }));
for (const [name, l3] of [['absent', undefined], ['null', null], ['v4-unspecified', '0.0.0.0'], ['v6-unspecified', '::'], ['v4-mapped-unspecified', '::ffff:0.0.0.0']]) {
  const connection = { l3, l4: CLIENT };
  H.push(vector({ id: `hints-unknown-l3-${name}`, spec: '§4 l3', description: `l3 ${l3 === undefined ? 'absent' : JSON.stringify(l3)} (with a PROXY source, which an unknown peer cannot vouch for): refused whatever the policies.`, token: stamp(), connection, options: { trustedProxies: PROXIES, onMismatch: 'flag', onUnverifiable: 'accept' }, expect: refused('ip-unverifiable') }));
}

// ══ §7: tickets ══════════════════════════════════════════════════════════════════════════════
const T = [];
const ISSUERS = { [ISS]: { keys: [publicOf(K['issuer-ed'])] } };
function ticket({ issuerKey = 'issuer-ed', header = {}, claims: over = {}, client = 'client-ed', signAs } = {}) {
  const jwk = K[issuerKey];
  const h = { alg: jwk.alg, typ: 'ipstamp-ticket+jwt', kid: jwk.kid, ...header };
  const c = { iss: ISS, ip: CLIENT, iat: NOW - 60, exp: NOW + 240, jti: nextJti(), cnf: { jwk: bare(K[client]) }, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return jws(jwk, h, c, signAs ?? h.alg);
}
function ticketStamp(ticketText, { client = 'client-ed', header = {}, claims: over = {}, signAs } = {}) {
  const jwk = K[client];
  const h = { alg: jwk.alg, typ: 'ipstamp+jwt', kid: thumbprint(jwk), ...header };
  const c = claims({ obs: 'ticket', tth: sha256(ticketText), ...over });
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return { token: jws(jwk, h, c, signAs ?? h.alg), claims: c, kid: h.kid };
}
function tv({ id, spec = '§7.4', description, ticketText, stampOver = {}, connection, options = {}, replay, expect, extraHeaders = {} }) {
  const t = ticketText ?? ticket();
  const s = ticketStamp(Array.isArray(t) ? t[0] : t, stampOver);
  const e = typeof expect === 'function' ? expect(s) : expect;
  return vector({ id, spec, description, token: s.token, extraHeaders: { 'client-ip-ticket': t, ...extraHeaders }, connection, options: { issuers: ISSUERS, ...options }, replay, expect: e });
}
const ticketOk = (observed = CLIENT, agreement = 'match') => (s) => ({ ok: true, source: 'ticket', issuer: ISS, ip: s.claims.ip, agreement, kid: s.kid, jti: s.claims.jti, iat: s.claims.iat, observed });
T.push(tv({ id: 'ticket-valid-eddsa', description: 'A valid ticket and a stamp signed with its cnf key (EdDSA) from the ticket\'s address.', expect: ticketOk() }));
{
  const t = ticket({ client: 'client-ec' });
  T.push(tv({ id: 'ticket-valid-es256-client', description: 'A valid ticket for a P-256 client key; the stamp is ES256.', ticketText: t, stampOver: { client: 'client-ec' }, expect: ticketOk() }));
}
T.push(tv({ id: 'ticket-behind-trusted-hops', description: 'Behind a trusted proxy that sends no address: step 12′ does not apply, accepted unverifiable even with onUnverifiable reject.', connection: { l3: PROXY }, options: { trustedProxies: PROXIES }, expect: ticketOk(null, 'unverifiable') }));
T.push(tv({ id: 'ticket-step-12-still-applies', description: 'The local observed address differs from the ticket\'s: ip-mismatch.', connection: { l3: OTHER }, expect: refused('ip-mismatch') }));
T.push(tv({ id: 'ticket-step-12-flag', description: 'onMismatch flag with a ticket: accepted, agreement mismatch.', connection: { l3: OTHER }, options: { onMismatch: 'flag' }, expect: ticketOk(OTHER, 'mismatch') }));
{
  const t = ticket();
  T.push(tv({ id: 'ticket-two-instances', description: 'Client-IP-Ticket sent twice.', ticketText: [t, t], expect: refused('bad-ticket') }));
  const pad = ticket({ claims: { pad: 'x'.repeat(1700) } });
  T.push(tv({ id: 'ticket-too-long', description: `A correctly signed ticket of ${pad.length} bytes (> 2048).`, ticketText: pad, expect: refused('bad-ticket') }));
}
T.push(tv({ id: 'ticket-unknown-issuer', description: 'iss not among the configured issuers.', ticketText: ticket({ claims: { iss: 'https://other-edge.example.com' } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-no-issuers-configured', description: 'A ticket sent to a verifier with no issuers configured.', options: { issuers: undefined }, expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-bad-signature', description: 'Signed by another key under the issuer\'s kid.', ticketText: ticket({ issuerKey: 'rogue-issuer-ed' }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-unknown-issuer-kid', description: 'A kid the issuer\'s JWK Set does not hold.', ticketText: ticket({ header: { kid: 'edge-2' } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-alg-not-pinned', description: 'Header alg Ed25519 for an issuer key whose alg is EdDSA (not a ticket alg; and not the key\'s).', ticketText: ticket({ header: { alg: 'Ed25519' }, signAs: 'EdDSA' }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-alg-hmac', description: 'A ticket signed HS256.', ticketText: ticket({ issuerKey: 'hs-1', header: { kid: 'edge-1' } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-wrong-typ', description: 'typ "ipstamp+jwt" on a ticket.', ticketText: ticket({ header: { typ: 'ipstamp+jwt' } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-forbidden-header-member', description: 'A jku member in the ticket header.', ticketText: ticket({ header: { jku: 'https://attacker.example/jwks' } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-not-yet-valid', description: 'Ticket iat = now + skew + 1.', ticketText: ticket({ claims: { iat: NOW + 6, exp: NOW + 300 } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-expired', description: 'Ticket exp = now − skew − 1.', ticketText: ticket({ claims: { iat: NOW - 300, exp: NOW - 6 } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-exp-at-limit', description: 'Ticket exp = now − skew exactly: "exp ≥ now − skew" holds.', ticketText: ticket({ claims: { iat: NOW - 300, exp: NOW - 5 } }), expect: ticketOk() }));
T.push(tv({ id: 'ticket-lifetime-too-long', description: 'Ticket exp = iat + 601.', ticketText: ticket({ claims: { iat: NOW - 1, exp: NOW + 600 } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-exp-not-after-iat', description: 'Ticket exp = iat.', ticketText: ticket({ claims: { iat: NOW, exp: NOW } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-ip-not-canonical', description: 'Ticket ip in IPv4-mapped form.', ticketText: ticket({ claims: { ip: `::ffff:${CLIENT}` } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-cnf-private-key', description: 'cnf.jwk carries a private member d.', ticketText: ticket({ claims: { cnf: { jwk: { ...bare(K['client-ed']), d: K['client-ed'].d } } } }), expect: refused('bad-ticket') }));
T.push(tv({ id: 'ticket-cnf-missing', description: 'No cnf.', ticketText: ticket({ claims: { cnf: undefined } }), expect: refused('bad-ticket') }));
{
  const t = ticket();
  T.push(tv({ id: 'ticket-after-bad-header', spec: '§7.4, §5 step 3', description: 'A stamp with a bad JOSE header and a bad ticket: step 3 answers before the ticket is checked.', ticketText: ticket({ issuerKey: 'rogue-issuer-ed' }), stampOver: { header: { typ: 'JWT' } }, expect: refused('bad-header') }));
  T.push(tv({ id: 'ticket-kid-not-thumbprint', spec: '§7.4 step 4', description: 'The stamp\'s kid is not the thumbprint of cnf.jwk.', ticketText: t, stampOver: { header: { kid: 'client-ed' } }, expect: refused('unknown-key') }));
}
T.push(tv({ id: 'ticket-kid-other-thumbprint', spec: '§7.4 step 4', description: 'The stamp\'s kid is the thumbprint of another key.', stampOver: { header: { kid: thumbprint(K['other-client-ed']) }, client: 'other-client-ed' }, expect: refused('unknown-key') }));
{
  // signed by another client key, but naming the ticket's thumbprint
  const t = ticket();
  const other = K['other-client-ed'];
  const h = { alg: 'EdDSA', typ: 'ipstamp+jwt', kid: thumbprint(K['client-ed']) };
  const c = claims({ obs: 'ticket', tth: sha256(t) });
  T.push(vector({ id: 'ticket-stamp-bad-signature', spec: '§7.4 step 5', description: 'A stamp naming the ticket key\'s thumbprint, signed by another key (a stolen ticket).', token: jws(other, h, c), extraHeaders: { 'client-ip-ticket': t }, options: { issuers: ISSUERS }, expect: refused('bad-signature') }));
  const t2 = ticket({ client: 'client-ec' });
  const h2 = { alg: 'EdDSA', typ: 'ipstamp+jwt', kid: thumbprint(K['client-ec']) };
  T.push(vector({ id: 'ticket-stamp-alg-not-the-keys', spec: '§7.4 step 5', description: 'A P-256 ticket key and a stamp whose header says EdDSA.', token: jws(K['client-ed'], h2, claims({ obs: 'ticket', tth: sha256(t2) })), extraHeaders: { 'client-ip-ticket': t2 }, options: { issuers: ISSUERS }, expect: refused('bad-signature') }));
}
T.push(tv({ id: 'ticket-ip-differs', spec: '§7.4 step 9', description: 'Stamp ip differs from the ticket ip (and equals the peer).', stampOver: { claims: { ip: OTHER } }, connection: { l3: OTHER }, expect: refused('binding-mismatch') }));
T.push(tv({ id: 'ticket-tth-wrong', spec: '§7.4 step 9', description: 'tth of another ticket.', stampOver: { claims: { tth: sha256('another ticket') } }, expect: refused('binding-mismatch') }));
T.push(tv({ id: 'ticket-tth-missing', spec: '§7.4 step 9', description: 'No tth.', stampOver: { claims: { tth: undefined } }, expect: refused('binding-mismatch') }));
{
  const t = ticket();
  const s = ticketStamp(t);
  T.push(vector({ id: 'ticket-replay', spec: '§7.4 step 10', description: 'The (thumbprint, jti) pair was seen.', token: s.token, extraHeaders: { 'client-ip-ticket': t }, options: { issuers: ISSUERS }, replay: { seen: [{ kid: s.kid, jti: s.claims.jti }] }, expect: refused('replay') }));
  const t2 = ticket();
  const s2 = ticketStamp(t2);
  T.push(vector({ id: 'ticket-replay-key-is-thumbprint', spec: '§7.4 step 10', description: 'Accepted, and the pair remembered is (thumbprint, jti).', token: s2.token, extraHeaders: { 'client-ip-ticket': t2 }, options: { issuers: ISSUERS }, expect: { ...ticketOk()(s2), remembers: [{ kid: s2.kid, jti: s2.claims.jti }] } }));
}
{
  // step 11 does not apply: a JWK Set entry whose kid equals the thumbprint is never consulted
  const keys = { keys: [...VERIFIER_KEYS.keys, { ...K['hs-allowed'], kid: thumbprint(K['client-ed']), allowed_ips: ['192.0.2.0/24'] }] };
  const t = ticket();
  const s = ticketStamp(t);
  T.push(vector({ id: 'ticket-step-11-not-applied', spec: '§7.4 steps 4, 11', description: 'The JWK Set holds a key under the thumbprint with allowed_ips excluding the ticket ip: not consulted, accepted.', keys, token: s.token, extraHeaders: { 'client-ip-ticket': t }, options: { issuers: ISSUERS }, expect: ticketOk()(s) }));
}
for (const [name, l3] of [['null', null], ['v4-unspecified', '0.0.0.0'], ['absent', undefined]]) {
  T.push(tv({ id: `ticket-unknown-l3-${name}`, spec: '§4 l3, §7.4', description: `l3 ${l3 === undefined ? 'absent' : JSON.stringify(l3)}: refused ip-unverifiable even with a valid ticket.`, connection: { l3 }, options: { onUnverifiable: 'accept' }, expect: refused('ip-unverifiable') }));
}

// ══ §7.1–7.2: asking an issuer for a ticket ═══════════════════════════════════════════════════
const R = [];
const EDGE_HOST = 'edge.example.com';
const TICKET_URL = `https://${EDGE_HOST}/.well-known/ipstamp/ticket`;
const ISSUER = { key: K['issuer-ed'], iss: ISS, lifetime: 300 };
function proof({ client = 'client-ed', header = {}, claims: over = {}, signAs, signer } = {}) {
  const jwk = K[client];
  const h = { alg: jwk.alg, typ: 'ipstamp-ticket-req+jwt', jwk: bare(jwk), ...header };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const c = { iat: NOW, jti: nextJti(), htm: 'POST', htu: TICKET_URL, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return { token: jws(signer ? K[signer] : jwk, h, c, signAs ?? h.alg), claims: c, thumbprint: thumbprint(jwk) };
}
/** An issued ticket, described by what the spec requires of it (§7.1–7.2). */
const issued = (ip, client = 'client-ed', iss = ISS, lifetime = 300) => ({
  ok: true,
  ticket: { iss, ip, iat: NOW, exp: NOW + lifetime, cnf: { jwk: bare(K[client]) }, kid: K['issuer-ed'].kid, alg: K['issuer-ed'].alg },
});
function rv({ id, spec = '§7.1', description, token, p = proof(), connection = {}, options = {}, issuer = ISSUER, replay = {}, expect, headers = {} }) {
  const v = vector({ id, spec, description, token: token === null ? undefined : (token ?? p.token), connection, options: { ...options }, replay, expect, request: { method: 'POST', target: '/.well-known/ipstamp/ticket', protocolNote: undefined, headers: { host: EDGE_HOST, ...headers } } });
  delete v.request.protocolNote;
  // the issuer's own key and origin are part of its configuration
  return { ...v, issuer: { key: issuer.key, ...(issuer.iss ? { iss: issuer.iss } : {}), lifetime: issuer.lifetime } };
}
R.push(rv({ id: 'issue-valid-eddsa', description: 'An EdDSA proof from a directly connected client over TLS: a ticket for its address.', connection: { tls: true }, expect: issued(CLIENT) }));
{
  const p = proof({ client: 'client-ec' });
  R.push(rv({ id: 'issue-valid-es256', description: 'An ES256 proof: a ticket bound to the P-256 key.', p, connection: { tls: true }, expect: issued(CLIENT, 'client-ec') }));
}
R.push(rv({ id: 'issue-behind-proxy', description: 'Behind a trusted proxy: the ticket carries the observed address from X-Forwarded-For.', connection: { l3: PROXY, tls: true }, headers: { 'x-forwarded-for': CLIENT }, options: { trustedProxies: PROXIES }, expect: issued(CLIENT) }));
R.push(rv({ id: 'issue-iss-from-binding', spec: '§7.2', description: 'No configured iss: the origin the proof was bound to.', connection: { tls: true }, issuer: { key: K['issuer-ed'], lifetime: 120 }, expect: issued(CLIENT, 'client-ed', `https://${EDGE_HOST}`, 120) }));
R.push(rv({ id: 'issue-unverifiable', description: 'Behind a trusted proxy that sends no address: observed undefined, 403.', connection: { l3: PROXY, tls: true }, options: { trustedProxies: PROXIES }, expect: refused('ip-unverifiable') }));
for (const [name, l3] of [['null', null], ['absent', undefined], ['v4-unspecified', '0.0.0.0']]) {
  R.push(rv({ id: `issue-unknown-l3-${name}`, spec: '§4 l3, §7.1', description: `l3 ${l3 === undefined ? 'absent' : JSON.stringify(l3)}: an issuer never signs an unknown address.`, connection: { l3, tls: true }, expect: refused('ip-unverifiable') }));
}
R.push(rv({ id: 'issue-missing', description: 'No proof.', token: null, connection: { tls: true }, expect: refused('missing') }));
{
  const p = proof();
  R.push(rv({ id: 'issue-malformed-two-proofs', description: 'The proof header twice.', token: [p.token, p.token], connection: { tls: true }, expect: refused('malformed') }));
}
R.push(rv({ id: 'issue-bad-header-hmac', description: 'A proof with alg HS256.', p: proof({ header: { alg: 'HS256' }, signer: 'hs-1' }), connection: { tls: true }, expect: refused('bad-header') }));
R.push(rv({ id: 'issue-bad-header-no-jwk', description: 'A proof without jwk.', p: proof({ header: { jwk: undefined } }), connection: { tls: true }, expect: refused('bad-header') }));
R.push(rv({ id: 'issue-bad-header-typ', description: 'A proof with the stamp typ.', p: proof({ header: { typ: 'ipstamp+jwt' } }), connection: { tls: true }, expect: refused('bad-header') }));
R.push(rv({ id: 'issue-bad-header-private-jwk', description: 'A proof whose jwk has its private member d.', p: proof({ header: { jwk: { ...bare(K['client-ed']), d: K['client-ed'].d } } }), connection: { tls: true }, expect: refused('bad-header') }));
R.push(rv({ id: 'issue-bad-header-jku', description: 'A proof with a jku member.', p: proof({ header: { jku: 'https://attacker.example/jwks' } }), connection: { tls: true }, expect: refused('bad-header') }));
{
  const ec = bare(K['client-ec']);
  const y = Buffer.from(ec.y, 'base64url');
  y[31] ^= 1;
  R.push(rv({ id: 'issue-bad-header-not-on-curve', description: 'A P-256 jwk whose point is not on the curve.', p: proof({ client: 'client-ec', header: { jwk: { ...ec, y: y.toString('base64url') } } }), connection: { tls: true }, expect: refused('bad-header') }));
}
R.push(rv({ id: 'issue-bad-signature-other-key', description: 'Signed by another key than the jwk it carries.', p: proof({ signer: 'other-client-ed' }), connection: { tls: true }, expect: refused('bad-signature') }));
R.push(rv({ id: 'issue-bad-signature-alg-not-the-curve', description: 'alg ES256 with an Ed25519 jwk.', p: proof({ header: { alg: 'ES256' }, signAs: 'EdDSA' }), connection: { tls: true }, expect: refused('bad-signature') }));
R.push(rv({ id: 'issue-bad-claims-htm', description: 'htm GET in a proof.', p: proof({ claims: { htm: 'GET' } }), connection: { tls: true }, expect: refused('bad-claims') }));
R.push(rv({ id: 'issue-bad-claims-jti', description: 'A jti of 21 characters.', p: proof({ claims: { jti: 'a'.repeat(21) } }), connection: { tls: true }, expect: refused('bad-claims') }));
R.push(rv({ id: 'issue-not-yet-valid', description: 'Proof iat = now + skew + 1.', p: proof({ claims: { iat: NOW + 6 } }), connection: { tls: true }, expect: refused('not-yet-valid') }));
R.push(rv({ id: 'issue-expired', description: 'Proof iat = now − maxAge − skew − 1.', p: proof({ claims: { iat: NOW - 36 } }), connection: { tls: true }, expect: refused('expired') }));
R.push(rv({ id: 'issue-binding-path', description: 'A proof bound to another URL.', p: proof({ claims: { htu: `https://${EDGE_HOST}/other` } }), connection: { tls: true }, expect: refused('binding-mismatch') }));
R.push(rv({ id: 'issue-binding-scheme', description: 'A proof bound to https over a plain connection without TLS evidence.', connection: { tls: false }, expect: refused('binding-mismatch') }));
{
  const p = proof();
  R.push(rv({ id: 'issue-replay', description: 'The proof\'s (thumbprint, jti) was seen: proofs are single use.', p, connection: { tls: true }, replay: { seen: [{ kid: p.thumbprint, jti: p.claims.jti }] }, expect: refused('replay') }));
}
R.push(rv({ id: 'issue-store-unavailable', description: 'The replay store cannot answer: an issuer never signs without its replay check.', connection: { tls: true }, replay: { available: false }, expect: refused('store-unavailable') }));
R.push(rv({ id: 'issue-store-full', description: 'A full replay store.', connection: { tls: true }, replay: { capacity: 1, seen: [{ kid: 'x', jti: nextJti() }] }, expect: refused('store-unavailable') }));

// ── write ───────────────────────────────────────────────────────────────────────────────────
const ids = new Set();
for (const v of [...S, ...H, ...T, ...R]) {
  if (ids.has(v.id)) throw new Error(`duplicate vector id ${v.id}`);
  ids.add(v.id);
}
const file = (section, title, vectors, kind = 'verify') => ({
  protocol: '1.2',
  kind,
  section,
  title,
  generatedBy: 'test/conformance/generate.mjs — expected outcomes stated from docs/protocol.md, never from running a verifier',
  keys: VERIFIER_KEYS,
  vectors,
});
const write = (name, content) => writeFileSync(join(OUT, name), `${JSON.stringify(content, null, 2)}\n`);
write('stamps.json', file('§5', 'The stamp: every verification step, the scheme of htu, the replay store, CORS preflights', S));
write('hints.json', file('§4', 'Network hints: l3, l4, l7 and the observed walk', H));
write('tickets.json', file('§7', 'Tickets: verifying a stamp that carries a ticket', T));
write('ticket-requests.json', file('§7.1', 'Asking an issuer for a ticket: the proof, and the ticket it signs', R, 'ticket-request'));
console.log(`wrote ${S.length} stamp, ${H.length} hint, ${T.length} ticket and ${R.length} ticket-request vectors`);
