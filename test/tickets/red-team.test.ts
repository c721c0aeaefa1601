import { createHash, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTicketIssuer, type TicketIssuerOptions } from '../../server/issuer/issuer.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { ConnectionHints, VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { createWebVerifier } from '../../server/web/index.js';
import { thumbprintInput } from '../../shared/token-checks.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

/*
 * Red team on tickets (PROTOCOL §7): a client that holds a valid key — and may have stolen
 * another client's ticket — tries to make a verifier accept an address the issuer did not see.
 * Every case here was tried as an attack and refused (or, for controls, accepted as the contract
 * requires). Cases other tests already pin are not repeated (tickets.test.ts, ticket-time.test.ts,
 * client-key-alg.test.ts, the conformance vectors tickets.json and ticket-requests.json).
 */

const NOW_S = 1_767_225_600;
const NOW = NOW_S * 1000;
const EDGE = 'https://edge.example.com';
const EDGE_B = 'https://edge-b.example.com';
const API = 'https://api.example.com';
const TICKET_PATH = '/.well-known/ipstamp/ticket';
const CLIENT_IP = '192.0.2.1';

type Jwk = Record<string, unknown>;
interface KeyPair {
  priv: Jwk;
  pub: Jwk;
}

function keyPair(kind: 'P-256' | 'P-384' | 'ed25519' | 'x25519', extra: Jwk = {}): KeyPair {
  const { privateKey, publicKey } =
    kind === 'ed25519' || kind === 'x25519' ? generateKeyPairSync(kind as 'ed25519') : generateKeyPairSync('ec', { namedCurve: kind });
  return { priv: { ...privateKey.export({ format: 'jwk' }), ...extra }, pub: { ...publicKey.export({ format: 'jwk' }), ...extra } };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
const thumbprint = (pub: Jwk) => sha256(thumbprintInput(pub as ClientPublicJwk));
const b64 = (text: string) => Buffer.from(text).toString('base64url');

let serial = 0;
const jti = () => `red-team-jti-${String(++serial).padStart(12, '0')}`;

// two issuers that both sign under kid "edge-1", and one client with a P-256 key
const issuerA = keyPair('P-256', { kid: 'edge-1', alg: 'ES256' });
const issuerB = keyPair('P-256', { kid: 'edge-1', alg: 'ES256' });
const client = keyPair('P-256', { alg: 'ES256' });
const clientPub = (({ kty, crv, x, y }) => ({ kty, crv, x, y }))(client.pub);
const jwksOf = (pair: KeyPair) => ({ keys: [pair.pub] });

/** A ticket signed by `issuer` (the real issuer signs the same shape); claims and header overridable, the header also as raw text. */
function ticket(claims: Jwk = {}, header: Jwk | string = {}, issuer: KeyPair = issuerA): string {
  const fullHeader = typeof header === 'string' ? header : { alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'edge-1', ...header };
  const fullClaims = { iss: EDGE, ip: CLIENT_IP, iat: NOW_S, exp: NOW_S + 300, jti: jti(), cnf: { jwk: clientPub }, ...claims };
  return signRaw(issuer.priv, fullHeader, fullClaims, 'ES256');
}

/** A stamp for GET https://api.example.com/orders carrying `ticketText`, signed by the ticket key. */
function stamp(ticketText: string, claims: Jwk = {}, header: Jwk = {}, signer: Jwk = client.priv, signAs = 'ES256'): string {
  const fullHeader = { alg: 'ES256', typ: 'ipstamp+jwt', kid: thumbprint(client.pub), ...header };
  const fullClaims = { ip: CLIENT_IP, iat: NOW_S, jti: jti(), htm: 'GET', htu: `${API}/orders`, obs: 'ticket', tth: sha256(ticketText), ...claims };
  return signRaw(signer, fullHeader, fullClaims, signAs);
}

/** Each verifier-side attack runs on both pipelines: node:crypto (createVerifier) and WebCrypto (ipstamp/web). */
type Make = (options: VerifierOptions) => { verify(input: VerifyInput): Promise<VerifyResult> };
const PLATFORMS: Record<string, Make> = {
  node: createVerifierCore,
  web: (options) => {
    const web = createWebVerifier(options);
    return { verify: (input) => web.verifyInput(input) };
  },
};
let make: Make = createVerifierCore;

function verifier(over: Partial<VerifierOptions> = {}) {
  return make({
    keys: { keys: [] },
    issuers: { [EDGE]: jwksOf(issuerA) },
    replayStore: new MapReplayStore(),
    origins: [API],
    now: () => NOW,
    ...over,
  });
}

type V = ReturnType<typeof verifier>;
const outcome = (r: VerifyResult) => (r.ok ? `accepted ${r.verdict?.agreement}` : r.reason);

function send(v: V, stampText: string | string[], ticketText: string | string[] | undefined, hints: ConnectionHints = { l3: CLIENT_IP }, extra = {}) {
  const headers: Record<string, string | string[]> = { host: 'api.example.com', 'client-ip-attestation': stampText, ...extra };
  if (ticketText !== undefined) headers['client-ip-ticket'] = ticketText;
  return v.verify({ method: 'GET', url: '/orders', headers, hints }).then(outcome);
}

/** The pair sent to a fresh verifier (no proxies): what a ticket with `ticketIp` and a stamp with `stampIp` get. */
async function pair(ticketIp: string, stampIp: string, l3 = ticketIp): Promise<string> {
  const t = ticket({ ip: ticketIp });
  return send(verifier(), stamp(t, { ip: stampIp }), t, { l3 });
}

function issuer(over: Partial<TicketIssuerOptions> = {}) {
  return createTicketIssuer({ key: issuerA.priv, origin: EDGE, origins: [EDGE], replayStore: new MapReplayStore(), now: () => NOW, ...over });
}

function proof(header: Jwk = {}, claims: Jwk = {}, signer: Jwk = client.priv, signAs = 'ES256'): string {
  const fullHeader = { alg: 'ES256', typ: 'ipstamp-ticket-req+jwt', jwk: clientPub, ...header };
  const fullClaims = { iat: NOW_S, jti: jti(), htm: 'POST', htu: `${EDGE}${TICKET_PATH}`, ...claims };
  return signRaw(signer, fullHeader, fullClaims, signAs);
}

/** Asks `edge` for a ticket; answers the ticket's ip, or the refusal's reason. */
async function ask(edge: ReturnType<typeof issuer>, hints: ConnectionHints, headers: Record<string, string> = {}, proofText = proof()): Promise<string> {
  const r = await edge.issue({
    method: 'POST',
    url: TICKET_PATH,
    headers: { host: 'edge.example.com', 'client-ip-attestation': proofText, ...headers },
    hints,
  });
  if (!r.ok) return r.reason;
  const claims = JSON.parse(Buffer.from(r.ticket.split('.')[1]!, 'base64url').toString()) as { ip: string };
  expect(claims.ip).toBe(r.ip);
  return claims.ip;
}

describe.each(Object.keys(PLATFORMS))('the verifier on %s', (platform) => {
  beforeAll(() => {
    make = PLATFORMS[platform]!;
  });

  describe('red team: address spelling (PROTOCOL §3, §7.2, §7.4)', () => {
    it('control: the canonical spellings pass, for IPv4 and IPv6', async () => {
      expect(await pair(CLIENT_IP, CLIENT_IP)).toBe('accepted match');
      expect(await pair('2001:db8::1', '2001:db8::1')).toBe('accepted match');
    });

    it.each([
      ['192.0.2.1', '::ffff:192.0.2.1'],
      ['192.0.2.1', '::FFFF:192.0.2.1'],
      ['192.0.2.1', '::ffff:c000:201'],
      ['192.0.2.1', '0:0:0:0:0:ffff:192.0.2.1'],
      ['192.0.2.1', '192.000.002.001'],
      ['192.0.2.1', '0xc0.0.2.1'],
      ['192.0.2.1', '3221225985'],
      ['192.0.2.1', '192.0.2.1:443'],
      ['192.0.2.1', '[192.0.2.1]'],
      ['192.0.2.1', ' 192.0.2.1'],
      ['192.0.2.1', '192.0.2.1.'],
      ['2001:db8::1', '2001:DB8::1'],
      ['2001:db8::1', '2001:db8:0:0:0:0:0:1'],
      ['2001:db8::1', '2001:0db8::1'],
      ['2001:db8::1', '2001:db8::0:1'],
      ['2001:db8::1', '[2001:db8::1]'],
      ['2001:db8::1', '[2001:db8::1]:443'],
      ['2001:db8::1', '2001:db8::1%eth0'],
    ])('a ticket for %s and a stamp claiming %s: bad-claims (a claim must be canonical, never compared as text)', async (ticketIp, stampIp) => {
      expect(await pair(ticketIp, stampIp)).toBe('bad-claims');
    });

    it.each([
      '192.000.002.001',
      '0xc0.0.2.1',
      '::ffff:c000:201',
      '2001:DB8::1',
      '2001:db8:0:0:0:0:0:1',
      '[2001:db8::1]',
      '2001:db8::1%eth0',
      '192.0.2.1:443',
      '0.0.0.0',
      '::',
      '::ffff:0.0.0.0',
      '',
    ])('an issuer-signed ticket whose ip is %j (not canonical, or no address) is bad-ticket, whatever the stamp says', async (ticketIp) => {
      for (const stampIp of [CLIENT_IP, ticketIp]) {
        const t = ticket({ ip: ticketIp });
        expect(await send(verifier(), stamp(t, { ip: stampIp }), t, { l3: CLIENT_IP }), `stamp ${stampIp}`).toBe('bad-ticket');
      }
    });

    it.each([
      ['192.0.2.1', '::ffff:192.0.2.1', 'accepted match'],
      ['2001:db8::1', '2001:DB8:0:0::1', 'accepted match'],
      ['2001:db8::1', '[2001:db8::1]:8443', 'accepted match'],
      // an IPv4-compatible, a NAT64 and an IPv4-translated address are other addresses than the IPv4 one
      ['192.0.2.1', '::192.0.2.1', 'ip-mismatch'],
      ['192.0.2.1', '64:ff9b::192.0.2.1', 'ip-mismatch'],
      ['192.0.2.1', '::ffff:0:192.0.2.1', 'ip-mismatch'],
      ['192.0.2.1', '192.0.2.10', 'ip-mismatch'],
    ])('step 12 compares canonical forms: a ticket for %s with the peer %s → %s', async (ticketIp, l3, expected) => {
      expect(await pair(ticketIp, ticketIp, l3)).toBe(expected);
    });
  });

  describe('red team: binding — whose ticket, whose key, whose issuer (§7.4 items 3–4, steps 4–5)', () => {
    const both = () => verifier({ issuers: { [EDGE]: jwksOf(issuerA), [EDGE_B]: jwksOf(issuerB) } });

    it("a ticket signed by issuer A naming issuer B as iss is bad-ticket, though both are trusted and share the kid: keys come from iss's own set", async () => {
      const controls = [ticket({ iss: EDGE }, {}, issuerA), ticket({ iss: EDGE_B }, {}, issuerB)];
      for (const t of controls) expect(await send(both(), stamp(t), t)).toBe('accepted match');
      for (const t of [ticket({ iss: EDGE_B }, {}, issuerA), ticket({ iss: EDGE }, {}, issuerB)]) {
        expect(await send(both(), stamp(t), t)).toBe('bad-ticket');
      }
    });

    it("a ticket signed by a client key the verifier knows (kid = the issuer's kid) is bad-ticket: tickets are checked with issuer keys only", async () => {
      const clientAsIssuer = { ...client.priv, kid: 'edge-1' };
      const v = () => verifier({ keys: { keys: [{ ...client.pub, kid: 'edge-1' }] } });
      // control: the key is a good client key under that kid
      expect(await send(v(), stamp('', { tth: undefined, obs: undefined }, { kid: 'edge-1' }), undefined)).toBe('accepted match');
      const forged = ticket({}, {}, { priv: clientAsIssuer, pub: client.pub });
      expect(await send(v(), stamp(forged), forged)).toBe('bad-ticket');
    });

    it("an issuer key is no client key: a stamp with no ticket, signed by the issuer's own key under its kid, is unknown-key", async () => {
      const s = stamp('', { tth: undefined, obs: undefined }, { kid: 'edge-1' }, issuerA.priv);
      expect(await send(verifier(), s, undefined)).toBe('unknown-key');
    });

    it.each<[string, Jwk, string]>([
      // y = 1, the identity: R = identity, S = 0 verifies every message under it
      ['a small-order Ed25519 key (the identity)', { kty: 'OKP', crv: 'Ed25519', x: b64('\x01'.padEnd(32, '\x00')) }, 'EdDSA'],
      [
        'a small-order Ed25519 key (y = 1 written as y + p)',
        { kty: 'OKP', crv: 'Ed25519', x: Buffer.from('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex').toString('base64url') },
        'EdDSA',
      ],
      ['a P-256 point off the curve', { kty: 'EC', crv: 'P-256', x: clientPub.x, y: b64('\x07'.repeat(32)) }, 'ES256'],
    ])('an issuer-signed ticket whose cnf.jwk is %s: bad-ticket, even with the signature that key would accept', async (_, jwk, alg) => {
      const t = ticket({ cnf: { jwk } });
      const trivial = `${b64(JSON.stringify({ alg, typ: 'ipstamp+jwt', kid: thumbprint(jwk) }))}.${b64(
        JSON.stringify({ ip: CLIENT_IP, iat: NOW_S, jti: jti(), htm: 'GET', htu: `${API}/orders`, obs: 'ticket', tth: sha256(t) }),
      )}.${Buffer.concat([Buffer.from('01'.padEnd(64, '0'), 'hex'), Buffer.alloc(32)]).toString('base64url')}`;
      expect(await send(verifier(), trivial, t)).toBe('bad-ticket');
    });

    it.each(['::ffff:0.0.0.0', '', 'garbage', '[::]:0'])('a valid ticket from a peer %j (unknown l3) is ip-unverifiable (§4.1, §7.4)', async (l3) => {
      const t = ticket();
      expect(await send(verifier({ trustedProxies: ['10.0.0.0/8'] }), stamp(t), t, { l3 })).toBe('ip-unverifiable');
    });

    it.each(['__proto__', 'constructor', 'hasOwnProperty', 'edge-2'])(
      'an issuer-signed ticket naming kid %s, which its issuer set lacks: bad-ticket',
      async (kid) => {
        const t = ticket({}, { kid });
        expect(await send(verifier(), stamp(t), t)).toBe('bad-ticket');
      },
    );

    it('token types do not cross: a ticket sent as the stamp, a stamp or a proof sent as the ticket, a ticket sent as the proof', async () => {
      const t = ticket();
      expect(await send(verifier(), t, undefined)).toBe('bad-header');
      expect(await send(verifier(), t, t)).toBe('bad-header');
      const s = stamp(t);
      expect(await send(verifier(), s, s)).toBe('bad-ticket');
      const p = proof();
      expect(await send(verifier(), stamp(p), p)).toBe('bad-ticket');
      expect(await ask(issuer(), { l3: CLIENT_IP }, {}, t)).toBe('bad-header');
    });
  });

  describe('red team: lifetime (§7.4 item 6)', () => {
    it('a ticket the verifier remembers is still checked against the clock on every use: good until exp + skew, bad-ticket a second later', async () => {
      let clock = NOW;
      const v = verifier({ now: () => clock });
      const t = ticket({ iat: NOW_S, exp: NOW_S + 60 });
      const at = (s: number) => {
        clock = s * 1000;
        return send(v, stamp(t, { iat: s }), t);
      };
      expect(await at(NOW_S)).toBe('accepted match');
      expect(await at(NOW_S + 65)).toBe('accepted match'); // exp + skew (5): the boundary passes
      expect(await at(NOW_S + 66)).toBe('bad-ticket');
    });

    it("a stamp still inside its own maxAge does not keep an expired ticket alive: iat 1 s before the ticket's exp, verified past exp + skew", async () => {
      const t = ticket({ iat: NOW_S - 100, exp: NOW_S - 10 });
      const s = stamp(t, { iat: NOW_S - 11 });
      expect(await send(verifier(), s, t)).toBe('bad-ticket');
      // control: the same stamp and ticket a few seconds earlier (exp = now − skew) are accepted
      expect(await send(verifier({ now: () => NOW - 5000 }), stamp(t, { iat: NOW_S - 11 }), t)).toBe('accepted match');
    });

    it('a ticket that is not yet valid does not become valid by being remembered: bad-ticket until iat − skew, then accepted', async () => {
      let clock = NOW;
      const v = verifier({ now: () => clock });
      const t = ticket({ iat: NOW_S + 60, exp: NOW_S + 120 });
      clock = NOW;
      expect(await send(v, stamp(t), t)).toBe('bad-ticket');
      clock = (NOW_S + 55) * 1000;
      expect(await send(v, stamp(t, { iat: NOW_S + 55 }), t)).toBe('accepted match');
    });
  });

  describe('red team: parsing (§2.1, §7.2, §7.4 items 1–2)', () => {
    const header = '{"alg":"ES256","typ":"ipstamp-ticket+jwt","kid":"edge-1"}';
    const claimsText = (body: string) => `{"iss":"${EDGE}",${body},"iat":${NOW_S},"exp":${NOW_S + 300},"jti":"${jti()}"}`;
    const cnf = JSON.stringify({ jwk: clientPub });
    const raw = (h: string, c: string) => signRaw(issuerA.priv, h, c, 'ES256');
    const cnfTwiceX = `{"jwk":{"kty":"EC","crv":"P-256","x":"${String(keyPair('P-256').pub.x)}","x":"${String(clientPub.x)}","y":"${String(clientPub.y)}"}}`;

    it('control: the hand-written ticket passes', async () => {
      const t = raw(header, claimsText(`"ip":"${CLIENT_IP}","cnf":${cnf}`));
      expect(await send(verifier(), stamp(t), t)).toBe('accepted match');
    });

    it.each([
      ['ip named twice (another address first)', header, claimsText(`"ip":"203.0.113.66","ip":"${CLIENT_IP}","cnf":${cnf}`)],
      ['ip named twice (another address last)', header, claimsText(`"ip":"${CLIENT_IP}","ip":"203.0.113.66","cnf":${cnf}`)],
      ['ip named twice, once escaped ("\\u0069p")', header, claimsText(`"ip":"203.0.113.66","\\u0069p":"${CLIENT_IP}","cnf":${cnf}`)],
      ['cnf named twice', header, claimsText(`"ip":"${CLIENT_IP}","cnf":${cnf},"cnf":${cnf}`)],
      ['cnf.jwk.x named twice (nested)', header, claimsText(`"ip":"${CLIENT_IP}","cnf":${cnfTwiceX}`)],
      [
        'kid named twice in the header',
        '{"alg":"ES256","typ":"ipstamp-ticket+jwt","kid":"edge-1","kid":"edge-1"}',
        claimsText(`"ip":"${CLIENT_IP}","cnf":${cnf}`),
      ],
      ['claims that are an array', header, `[${claimsText(`"ip":"${CLIENT_IP}","cnf":${cnf}`)}]`],
      ['claims that are a string', header, JSON.stringify(claimsText(`"ip":"${CLIENT_IP}","cnf":${cnf}`))],
    ])('an issuer-signed ticket with %s: bad-ticket', async (_, h, c) => {
      const t = raw(h, c);
      expect(await send(verifier(), stamp(t), t)).toBe('bad-ticket');
    });

    it.each<[string, unknown]>([
      ['crit', ['exp']],
      ['b64', false],
      ['jwk', clientPub],
      ['x5u', 'https://evil.example/x5'],
      ['x5c', ['MIIB']],
      ['x5t', 'AAAA'],
      ['zip', 'DEF'],
    ])('an issuer-signed ticket whose header has %s: bad-ticket (a verifier never takes a key or a rule from a token)', async (member, value) => {
      const t = ticket({}, { [member]: value });
      expect(await send(verifier(), stamp(t), t)).toBe('bad-ticket');
    });

    it('two tickets in one field line (joined with a comma): bad-ticket; the stamp twice beside a good ticket: malformed', async () => {
      const t = ticket();
      expect(await send(verifier(), stamp(t), `${t}, ${t}`)).toBe('bad-ticket');
      const s = stamp(t);
      expect(await send(verifier(), [s, s], t)).toBe('malformed');
    });
  });
});

describe('red team: obtaining a ticket for an address that is not mine (§4, §7.1)', () => {
  const TRUSTED = ['10.0.0.0/8'];

  it.each([
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8::0:1', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
  ])('the issuer writes the peer %s canonically, as %s', async (l3, written) => {
    expect(await ask(issuer(), { l3 })).toBe(written);
  });

  it.each<[string, Partial<TicketIssuerOptions>, ConnectionHints, Record<string, string>, string]>([
    ['an untrusted peer sending X-Forwarded-For', { trustedProxies: TRUSTED }, { l3: '198.51.100.9' }, { 'x-forwarded-for': '203.0.113.66' }, '198.51.100.9'],
    [
      'an untrusted peer sending Forwarded (configured)',
      { trustedProxies: TRUSTED, forwardedHeader: 'forwarded' },
      { l3: '198.51.100.9' },
      { forwarded: 'for=203.0.113.66' },
      '198.51.100.9',
    ],
    ['an untrusted peer with a PROXY header (l4)', { trustedProxies: TRUSTED }, { l3: '198.51.100.9', l4: '203.0.113.66' }, {}, '198.51.100.9'],
    [
      'a client behind a trusted PROXY-protocol balancer sending its own X-Forwarded-For',
      { trustedProxies: TRUSTED },
      { l3: '10.0.0.10', l4: '198.51.100.9' },
      { 'x-forwarded-for': '203.0.113.66' },
      '198.51.100.9',
    ],
    [
      'a client prepending to the X-Forwarded-For a trusted proxy appends to',
      { trustedProxies: TRUSTED },
      { l3: '10.0.0.10' },
      { 'x-forwarded-for': '203.0.113.66, 198.51.100.9' },
      '198.51.100.9',
    ],
    [
      'a client prepending a trusted address and its pick',
      { trustedProxies: TRUSTED },
      { l3: '10.0.0.10' },
      { 'x-forwarded-for': '203.0.113.66, 10.0.0.7, 198.51.100.9' },
      '198.51.100.9',
    ],
    [
      'a client sending X-Forwarded-For where the proxy writes Forwarded',
      { trustedProxies: TRUSTED, forwardedHeader: 'forwarded' },
      { l3: '10.0.0.10' },
      { forwarded: 'for=198.51.100.9', 'x-forwarded-for': '203.0.113.66' },
      '198.51.100.9',
    ],
    [
      'a client sending X-Forwarded-For where the proxy writes Forwarded but sent none',
      { trustedProxies: TRUSTED, forwardedHeader: 'forwarded' },
      { l3: '10.0.0.10' },
      { 'x-forwarded-for': '203.0.113.66' },
      'ip-unverifiable',
    ],
    [
      'a client sending X-Real-IP where the proxy writes X-Forwarded-For',
      { trustedProxies: TRUSTED },
      { l3: '10.0.0.10' },
      { 'x-forwarded-for': '198.51.100.9', 'x-real-ip': '203.0.113.66' },
      '198.51.100.9',
    ],
  ])('%s: the ticket names the observed client, never the address it chose', async (_, options, hints, headers, expected) => {
    expect(await ask(issuer(options), hints, headers)).toBe(expected);
  });

  it.each<[string, ConnectionHints, Record<string, string>]>([
    ['a peer ::', { l3: '::' }, {}],
    ['a peer ::ffff:0.0.0.0', { l3: '::ffff:0.0.0.0' }, {}],
    ['a peer given as an empty string', { l3: '' }, {}],
    ['a peer that is not an address', { l3: 'garbage' }, {}],
    ['a trusted proxy naming 0.0.0.0', { l3: '10.0.0.10' }, { 'x-forwarded-for': '0.0.0.0' }],
    ['a trusted proxy naming ::ffff:0.0.0.0', { l3: '10.0.0.10' }, { 'x-forwarded-for': '::ffff:0.0.0.0' }],
    ['a trusted proxy naming a zero-padded address', { l3: '10.0.0.10' }, { 'x-forwarded-for': '198.051.100.9' }],
    ['a chain of trusted addresses only', { l3: '10.0.0.10' }, { 'x-forwarded-for': '10.0.0.7' }],
  ])('%s: ip-unverifiable, the issuer signs no address it did not observe (§5 step 12′, §7.1)', async (_, hints, headers) => {
    expect(await ask(issuer({ trustedProxies: TRUSTED }), hints, headers)).toBe('ip-unverifiable');
  });

  it.each<[string, Jwk, string?]>([
    ['an oct key', { kty: 'oct', k: b64('x'.repeat(32)) }],
    ['an EC key carrying a k member', { ...clientPub, k: b64('x'.repeat(32)) }],
    ['a P-384 key', (({ kty, crv, x, y }) => ({ kty, crv, x, y }))(keyPair('P-384').pub)],
    ['an X25519 key', (({ kty, crv, x }) => ({ kty, crv, x }))(keyPair('x25519').pub), 'EdDSA'],
    ['an EC key without y', { kty: 'EC', crv: 'P-256', x: clientPub.x }],
  ])('a proof whose jwk is %s: bad-header, no ticket', async (_, jwk, alg = 'ES256') => {
    expect(await ask(issuer(), { l3: CLIENT_IP }, {}, proof({ jwk, alg }))).toBe('bad-header');
  });
});
