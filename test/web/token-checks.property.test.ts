import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stampHeaderSchema } from '../../shared/schema.js';
import {
  clientPublicJwkSchema,
  ticketClaimsSchema,
  ticketHeaderSchema,
  ticketRequestClaimsSchema,
  ticketRequestHeaderSchema,
} from '../../shared/ticket-schema.js';
import {
  matchesClientPublicJwk,
  matchesStampHeader,
  matchesTicketClaims,
  matchesTicketHeader,
  matchesTicketRequestClaims,
  matchesTicketRequestHeader,
} from '../../shared/token-checks.js';

/**
 * The verify pipeline reads stamp headers and tickets, and the issuer ticket requests, through
 * compiled twins of their zod schemas (shared/token-checks.ts) — what keeps zod out of
 * ipstamp/web's bundle, and zod schemas out of a Node server (#16: once built, they cost a
 * server CPU on every request). The schemas
 * are the definitions: on every value JSON.parse can return, each twin gives its schema's
 * answer. (The claims twin has its own test: test/verify/claims-check.property.test.ts.)
 */
const RUNS = { numRuns: 2500 };

const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64String = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...b64.split('')), minLength: min, maxLength: max });
const anyJson = fc.jsonValue({ maxDepth: 2 });
const long = 'a'.repeat(2049);
const X = 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU';
const Y = 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0';

const kid = fc.oneof(fc.constantFrom('k1', 'edge-1', 'a.b:c_d-e', '', 'a b', 'é', 'x'.repeat(128), 'x'.repeat(129)), fc.string({ maxLength: 6 }), anyJson);
const forbidden = fc.constantFrom('crit', 'b64', 'jku', 'jwk', 'x5u', 'x5c', 'x5t', 'zip', 'cty', 'extra');

/** An object spelled from members that are right, nearly right or wrong, some left out, extra ones added. */
function objectOf(members: Record<string, fc.Arbitrary<unknown>>, extra: fc.Arbitrary<string> = fc.constantFrom('extra', 'cty')) {
  return fc
    .tuple(fc.record(members, { requiredKeys: [] }), fc.dictionary(extra, anyJson, { maxKeys: 2 }))
    .map(([base, more]) => ({ ...more, ...base }) as Record<string, unknown>);
}

const header = (algs: string[], typ: string) =>
  fc.oneof(
    objectOf(
      { alg: fc.oneof(fc.constantFrom(...algs, 'none', 'RS256', 'es256'), anyJson), typ: fc.oneof(fc.constantFrom(typ, 'JWT', `${typ} `), anyJson), kid },
      forbidden,
    ),
    anyJson,
  );

const coordinate = fc.oneof(fc.constantFrom(X, Y, X.slice(1), `${X}A`, `${X.slice(1)}=`), b64String(42, 44), anyJson);
const EC = { kty: 'EC', crv: 'P-256', x: X, y: Y };
const OKP = { kty: 'OKP', crv: 'Ed25519', x: X };
/** A valid object with one member changed, removed, or one added: the edges where a twin would drift. */
function nearly(valid: Record<string, unknown>, values: fc.Arbitrary<unknown>, names: fc.Arbitrary<string>) {
  return fc.tuple(fc.constantFrom('keep', 'change', 'remove', 'add'), names, values).map(([how, name, value]) => {
    const out: Record<string, unknown> = { ...valid };
    if (how === 'change' || how === 'add') out[name] = value;
    if (how === 'remove') delete out[name];
    return out;
  });
}
const clientJwk = fc.oneof(
  nearly(EC, fc.oneof(coordinate, fc.constantFrom('EC', 'OKP', 'P-256', 'Ed25519')), fc.constantFrom('kty', 'crv', 'x', 'y', 'd', 'k', 'kid')),
  nearly(OKP, fc.oneof(coordinate, fc.constantFrom('EC', 'OKP', 'P-256', 'Ed25519')), fc.constantFrom('kty', 'crv', 'x', 'y', 'd', 'k', 'kid')),
  objectOf(
    {
      kty: fc.oneof(fc.constantFrom('EC', 'OKP', 'RSA', 'oct'), anyJson),
      crv: fc.oneof(fc.constantFrom('P-256', 'Ed25519', 'P-384', 'X25519'), anyJson),
      x: coordinate,
      y: coordinate,
    },
    fc.constantFrom('d', 'k', 'kid', 'use'),
  ),
  anyJson,
);
const epoch = fc.oneof(
  fc.constantFrom(0, -1, 1.5, 1_700_000_000, 1_700_000_300, 1_700_000_600, 1_700_000_601, Number.MAX_SAFE_INTEGER, 2 ** 53, '5'),
  fc.integer(),
  anyJson,
);
const ticketClaims = fc.oneof(
  objectOf({
    iss: fc.oneof(
      fc.constantFrom('https://edge.example.com', 'http://127.0.0.1:8080', 'https://edge.example.com/', 'ftp://x', `https://${long}`, 'https://a b'),
      anyJson,
    ),
    ip: fc.oneof(fc.constantFrom('192.0.2.7', '2001:db8::1', '::ffff:192.0.2.7', '010.0.0.1', '0.0.0.0', ''), fc.ipV4(), fc.ipV6(), anyJson),
    iat: epoch,
    exp: epoch,
    jti: fc.oneof(b64String(20, 66), fc.string(), anyJson),
    cnf: fc.oneof(objectOf({ jwk: clientJwk }), anyJson),
  }),
  anyJson,
);

/** §7.1's proof header: the client's key in `jwk`, which no other header may carry. */
const ticketRequestHeader = fc.oneof(
  nearly(
    { alg: 'ES256', typ: 'ipstamp-ticket-req+jwt', jwk: EC },
    fc.oneof(clientJwk, fc.constantFrom('ES256', 'EdDSA', 'ipstamp-ticket-req+jwt')),
    fc.constantFrom('alg', 'typ', 'jwk', 'crit', 'kid', 'x5c'),
  ),
  objectOf(
    {
      alg: fc.oneof(fc.constantFrom('ES256', 'EdDSA', 'HS256', 'none'), anyJson),
      typ: fc.oneof(fc.constantFrom('ipstamp-ticket-req+jwt', 'ipstamp-ticket+jwt', 'JWT'), anyJson),
      jwk: clientJwk,
    },
    forbidden,
  ),
  anyJson,
);
const ticketRequestClaims = fc.oneof(
  nearly(
    { iat: 1_700_000_000, jti: 'a'.repeat(22), htm: 'POST', htu: 'https://edge.example.com/.well-known/ipstamp/ticket' },
    fc.oneof(epoch, fc.constantFrom('POST', 'GET', 'b'.repeat(21), 'b'.repeat(64), 'b'.repeat(65)), anyJson),
    fc.constantFrom('iat', 'jti', 'htm', 'htu', 'exp'),
  ),
  objectOf({
    iat: epoch,
    jti: fc.oneof(b64String(20, 66), fc.string(), anyJson),
    htm: fc.oneof(fc.constantFrom('POST', 'GET', 'post', 'POST '), anyJson),
    htu: fc.oneof(
      fc.constantFrom(
        'https://edge.example.com/.well-known/ipstamp/ticket',
        'https://edge.example.com',
        'http://x/a b',
        `https://e.example/${long}`,
        'https://e.example/?q',
      ),
      anyJson,
    ),
  }),
  anyJson,
);

function sameAnswer(twin: (value: unknown) => boolean, schema: { safeParse(value: unknown): { success: boolean } }, values: fc.Arbitrary<unknown>): void {
  fc.assert(
    fc.property(values, (value) => {
      expect(twin(value)).toBe(schema.safeParse(value).success);
    }),
    RUNS,
  );
}

describe('compiled twins answer as their schemas', () => {
  it('stamp header', () =>
    sameAnswer(matchesStampHeader, stampHeaderSchema, header(['HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'EdDSA', 'Ed25519'], 'ipstamp+jwt')));
  it('ticket header', () => sameAnswer(matchesTicketHeader, ticketHeaderSchema, header(['ES256', 'EdDSA'], 'ipstamp-ticket+jwt')));
  it('client public JWK', () => sameAnswer(matchesClientPublicJwk, clientPublicJwkSchema, clientJwk));
  it('ticket claims', () => sameAnswer(matchesTicketClaims, ticketClaimsSchema, ticketClaims));
  it('ticket request header', () => sameAnswer(matchesTicketRequestHeader, ticketRequestHeaderSchema, ticketRequestHeader));
  it('ticket request claims', () => sameAnswer(matchesTicketRequestClaims, ticketRequestClaimsSchema, ticketRequestClaims));

  it('each arbitrary reaches both answers (else the comparison proves little)', () => {
    const both = (twin: (v: unknown) => boolean, values: fc.Arbitrary<unknown>) => new Set(fc.sample(values, { numRuns: 3000, seed: 7 }).map(twin));
    const validClaims = {
      iss: 'https://edge.example.com',
      ip: '192.0.2.7',
      iat: 1_700_000_000,
      exp: 1_700_000_300,
      jti: 'a'.repeat(22),
      cnf: { jwk: { kty: 'EC', crv: 'P-256', x: X, y: Y } },
    };
    expect(both(matchesStampHeader, header(['HS256'], 'ipstamp+jwt'))).toEqual(new Set([true, false]));
    expect(both(matchesTicketHeader, header(['ES256'], 'ipstamp-ticket+jwt'))).toEqual(new Set([true, false]));
    expect(both(matchesClientPublicJwk, clientJwk)).toEqual(new Set([true, false]));
    expect(both(matchesTicketRequestHeader, ticketRequestHeader)).toEqual(new Set([true, false]));
    expect(both(matchesTicketRequestClaims, ticketRequestClaims)).toEqual(new Set([true, false]));
    // valid ticket claims are rare by chance: the known-good one and its single-member changes stand in
    expect(matchesTicketClaims(validClaims)).toBe(true);
    expect(ticketClaimsSchema.safeParse(validClaims).success).toBe(true);
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(validClaims)), anyJson, (member, value) => {
        const changed = { ...validClaims, [member]: value };
        expect(matchesTicketClaims(changed)).toBe(ticketClaimsSchema.safeParse(changed).success);
      }),
      RUNS,
    );
  });

  it('ticket claims at their edges: twin and schema give the same answer, and the right one (PROTOCOL §7.2)', () => {
    const valid = { iss: 'https://edge.example.com', ip: '192.0.2.7', iat: 1_700_000_000, exp: 1_700_000_300, jti: 'a'.repeat(22), cnf: { jwk: EC } };
    const cases: [Record<string, unknown>, boolean][] = [
      [{ exp: 1_700_000_001 }, true],
      [{ exp: 1_700_000_600 }, true], // iat + 600: the longest lifetime
      [{ exp: 1_700_000_000 }, false], // exp = iat
      [{ exp: 1_699_999_999 }, false],
      [{ exp: 1_700_000_601 }, false],
      [{ iss: 'http://127.0.0.1:8080' }, true],
      [{ iss: 'https://edge.example.com/' }, false], // an origin, not a URL with a path
      [{ iss: 'https://edge.example.com/x' }, false],
      [{ iss: 'https://edge.example.com?x' }, false],
      [{ iss: 'https://edge.example.com#x' }, false],
    ];
    for (const [change, expected] of cases) {
      const claims = { ...valid, ...change };
      expect([matchesTicketClaims(claims), ticketClaimsSchema.safeParse(claims).success], JSON.stringify(change)).toEqual([expected, expected]);
    }
  });
});
