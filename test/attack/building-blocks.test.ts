import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeProxyV1, encodeProxyV2 } from '../../server/attack/catalog/proxy-header-bytes.js';
import { jwkThumbprint, TICKET_WIRE } from '../../server/attack/catalog/forge.js';
import { generateTicketKey } from '../../server/attack/keys.js';
import { judgeOutcome } from '../../server/attack/judge.js';
import { responseOutcome } from '../../server/attack/transport.js';
import { TicketBudget } from '../../server/attack/ticket-budget.js';
import { tokenTamper } from '../../server/attack/catalog/forge.js';
import { parseProxyHeader } from '../../server/hints/proxy-protocol.js';
import { jwkThumbprint as libraryThumbprint } from '../../server/jws/public-jwk.js';
import { canonicalAddress, formatIPv6 } from '../../shared/address.js';
import { ISSUER_JWKS_PATH, MAX_TICKET_BYTES, TICKET_PATH, TICKET_REQUEST_TYP, TICKET_TYP } from '../../shared/ticket-schema.js';
import { ticketKid } from '../../client/ticket-proof.js';
import { makeKey } from '../support/keys.js';
import { signRaw } from '../support/sign-raw.js';

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 255 })).map((o) => o.join('.'));
const ipv6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => formatIPv6(g))
  .filter((a) => canonicalAddress(a) === a);
const port = fc.nat(65535);

describe('PROXY header encoders, read back by the real parser', () => {
  it('v1 and v2 round-trip any TCP4/TCP6 endpoints', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)), port, port, fc.boolean(), ([src, dst], sport, dport, v2) => {
        const bytes = (v2 ? encodeProxyV2 : encodeProxyV1)({ address: src, port: sport }, { address: dst, port: dport });
        const header = parseProxyHeader(bytes);
        expect(header).toMatchObject({ version: v2 ? 2 : 1, command: 'PROXY', length: bytes.length });
        expect(header.source).toEqual({ address: src, port: sport });
        expect(header.destination).toEqual({ address: dst, port: dport });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses mixed families and invalid addresses with a TypeError', () => {
    expect(() => encodeProxyV1({ address: '192.0.2.1', port: 1 }, { address: '2001:db8::1', port: 2 })).toThrow(TypeError);
    expect(() => encodeProxyV2({ address: 'not-an-ip', port: 1 }, { address: '192.0.2.1', port: 2 })).toThrow(TypeError);
    expect(() => encodeProxyV2({ address: '192.0.2.1', port: 70000 }, { address: '192.0.2.1', port: 2 })).toThrow(TypeError);
  });
});

describe('token re-encodings: textually new, cryptographically the same', () => {
  const claims = { ip: '192.0.2.1', iat: 1, jti: 'A'.repeat(22), htm: 'GET', htu: 'http://a.example/' };

  it('the ECDSA (r, n − s) twin still verifies, for P-256 and P-384', async () => {
    for (const alg of ['ES256', 'ES384'] as const) {
      const key = await makeKey(alg);
      const token = signRaw(key.privateJwk, { alg, typ: 'ipstamp+jwt', kid: key.kid }, claims);
      const twin = tokenTamper.ecdsaTwin(token, alg)!;
      expect(twin).not.toBe(token);
      const [h, p, s] = twin.split('.');
      const publicKey = createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' });
      const ok = verify(`sha${alg.slice(2)}`, Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));
      expect(ok).toBe(true);
      expect(tokenTamper.ecdsaTwin(twin, alg)).toBe(token); // n − (n − s) = s
    }
    expect(tokenTamper.ecdsaTwin('a.b.c', 'EdDSA')).toBeUndefined();
  });

  it('the Ed25519 S + L twin is the same equation, and node:crypto refuses it as RFC 8032 says', async () => {
    const key = await makeKey('EdDSA');
    const token = signRaw(key.privateJwk, { alg: 'EdDSA', typ: 'ipstamp+jwt', kid: key.kid }, claims);
    const twin = tokenTamper.ed25519Twin(token, 'EdDSA')!;
    expect(twin).not.toBe(token);
    const [h, p, s] = twin.split('.');
    const publicKey = createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' });
    expect(verify(null, Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s!, 'base64url'))).toBe(false);
  });

  it('flipping unused bits changes the text but not the decoded signature; none to flip gives undefined', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), (sig) => {
        const token = `e30.e30.${Buffer.from(sig).toString('base64url')}`;
        const flipped = tokenTamper.flipUnusedBits(token);
        if (sig.length % 3 === 0) {
          expect(flipped).toBeUndefined();
        } else {
          expect(flipped).not.toBe(token);
          expect(Buffer.from(flipped!.split('.')[2]!, 'base64url')).toEqual(Buffer.from(sig));
        }
      }),
    );
  });

  it('withPayload keeps header and signature and swaps the payload', () => {
    const out = tokenTamper.withPayload('aaa.bbb.ccc', { ip: '203.0.113.9' });
    expect(out.split('.')[0]).toBe('aaa');
    expect(out.split('.')[2]).toBe('ccc');
    expect(tokenTamper.payloadOf(out)).toEqual({ ip: '203.0.113.9' });
  });
});

describe('reading what a target answered', () => {
  it('takes the reason from problem+json (reason, else the urn type) and the agreement from a verdict', () => {
    expect(responseOutcome(401, '{"type":"urn:ipstamp:replay","status":401,"reason":"replay"}')).toEqual({ kind: 'response', status: 401, reason: 'replay' });
    expect(responseOutcome(403, '{"type":"urn:ipstamp:ip-mismatch"}')).toEqual({ kind: 'response', status: 403, reason: 'ip-mismatch' });
    expect(responseOutcome(200, '{"ipStamp":{"agreement":"mismatch"}}')).toEqual({ kind: 'response', status: 200, agreement: 'mismatch' });
    expect(responseOutcome(400, '<html>bad request</html>')).toEqual({ kind: 'response', status: 400 });
  });

  it('never throws, and never lets a hostile body put arbitrary text into the report', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(fc.string(), fc.json(), fc.constantFrom('{"reason":"<script>"}', '{"reason":{}}')),
        (status, body) => {
          const outcome = responseOutcome(status, body);
          expect(outcome.kind).toBe('response');
          if (outcome.kind === 'response' && outcome.reason !== undefined) expect(outcome.reason).toMatch(/^[a-z-]{1,40}$/);
          if (outcome.kind === 'response' && outcome.agreement !== undefined) expect(['match', 'mismatch', 'unverifiable']).toContain(outcome.agreement);
        },
      ),
    );
  });
});

describe("the issuer's rate limit, as its headers state it", () => {
  it('counts what is sent since the last statement, refuses to send past it, and gives the limit back when the window resets', () => {
    let now = 1_000_000;
    const budget = new TicketBudget(() => now);
    expect(budget.left()).toBeUndefined(); // no statement yet: nothing to hold back
    expect(budget.take()).toBe(true);
    budget.observe(200, { 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '2', 'x-ratelimit-reset': '60' });
    expect([budget.limit, budget.left()]).toEqual([3, 2]);
    expect([budget.take(), budget.take(), budget.take()]).toEqual([true, true, false]);
    expect([budget.sent, budget.left()]).toEqual([3, 0]);
    expect(budget.describe()).toBe('3 ticket requests per window from this address, none left; the window resets in 60 s');
    now += 60_000;
    expect(budget.left()).toBe(1); // the whole limit back, less what was sent since the statement (counted against it, to be safe)
    budget.observe(429, { 'retry-after': '30', 'x-ratelimit-limit': '3' });
    expect([budget.left(), budget.take()]).toEqual([0, false]);
    expect(budget.describe()).toMatch(/none left \(it answered 429\); the window resets in 30 s/);
    // headers that are not counts change nothing
    budget.observe(200, { 'x-ratelimit-remaining': 'lots', 'x-ratelimit-limit': ['-1'] });
    expect([budget.limit, budget.left()]).toEqual([3, 0]);
  });

  it('a 429 or a request not sent is never judged: it is an error (INCONCLUSIVE), whatever the attack expected', () => {
    for (const expect_ of [{ accept: true } as const, { reject: true } as const, { reject: true, reason: 'replay' } as const]) {
      expect(judgeOutcome(expect_, { kind: 'response', status: 429 }, 100)).toMatchObject({ verdict: 'error', note: expect.stringMatching(/429/) });
      expect(judgeOutcome(expect_, { kind: 'not-sent', why: 'no room' }, 100)).toEqual({ verdict: 'error', note: 'no room' });
    }
  });
});

describe("the harness's own copies of what the library keeps internal", () => {
  it("its §7 wire values are the library's", () => {
    expect(TICKET_WIRE).toEqual({
      ticketTyp: TICKET_TYP,
      requestTyp: TICKET_REQUEST_TYP,
      ticketPath: TICKET_PATH,
      issuerJwksPath: ISSUER_JWKS_PATH,
      maxTicketBytes: MAX_TICKET_BYTES,
    });
  });

  it("its RFC 7638 thumbprint of a ticket key is the verifier's and the client's kid", async () => {
    for (const alg of ['ES256', 'EdDSA', 'ES256', 'EdDSA'] as const) {
      const key = generateTicketKey(alg);
      expect(key.kid).toBe(jwkThumbprint(key.publicJwk));
      expect(key.kid).toBe(libraryThumbprint(key.publicJwk));
      expect(key.kid).toBe(await ticketKid(key.publicJwk));
    }
  });
});
