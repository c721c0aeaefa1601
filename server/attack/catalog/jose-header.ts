import type { Attack, AttackContext } from './types.js';

/** Attacks on §2.1 and §5 steps 3–5: the JOSE header, the key it names, the signature. */

const algNone = (variant: string): Attack => ({
  name: `alg-none-${variant}`,
  description: `"alg": "${variant}" and an empty signature.`,
  expect: { reject: true, reason: 'bad-header' },
  build: (ctx) => ctx.http(ctx.sign(ctx.header({ alg: variant }), ctx.claims(), { signAs: 'none' })),
});

type PublicForm = 'jwk' | 'pem' | 'raw';

const algConfusion = (form: PublicForm): Attack => ({
  name: `alg-confusion-${form}`,
  description: `"alg": "HS256", HMAC-signed with the public key (${form === 'jwk' ? 'its JWK JSON' : form === 'pem' ? 'its SPKI PEM' : 'its raw bytes'}) as the secret.`,
  // the kid→key entry pins the alg (§2.1), so an HS256 header on an asymmetric key fails at step 5
  expect: { reject: true, reason: 'bad-signature' },
  build: (ctx) => {
    if (ctx.publicKey === undefined) return { skip: 'an HMAC key has no public half to confuse it with' };
    const secret = form === 'jwk' ? ctx.publicKey.jwkJson : form === 'pem' ? ctx.publicKey.pem : ctx.publicKey.raw;
    return ctx.http(ctx.sign(ctx.header({ alg: 'HS256' }), ctx.claims(), { signAs: 'HS256', secret }));
  },
});

const hostileKid = (name: string, what: string, kid: (ctx: AttackContext) => string): Attack => ({
  name: `kid-${name}`,
  description: `A kid that is ${what}, signed with the real key.`,
  expect: { reject: true, reason: 'bad-header' },
  build: (ctx) => ctx.http(ctx.sign(ctx.header({ kid: kid(ctx) }), ctx.claims())),
});

/** Fullwidth forms fold back to ASCII under NFKC: a verifier that normalizes finds the real key. */
const fullwidth = (text: string): string => Array.from(text, (c) => (c >= '!' && c <= '~' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('');

const forbiddenMember = (member: 'jku' | 'x5u' | 'crit', value: unknown, why: string): Attack => ({
  name: `header-${member}`,
  description: `A "${member}" header member, signed with the real key: ${why} (§2.1).`,
  expect: { reject: true, reason: 'bad-header' },
  build: (ctx) => ctx.http(ctx.sign(ctx.header({ [member]: value }), ctx.claims())),
});

/** JSON text with `kid` twice; `realLast` puts the real kid where last-wins parsers (JSON.parse) look. */
const duplicateKid = (realLast: boolean): Attack => ({
  name: `header-duplicate-kid-${realLast ? 'last' : 'first'}`,
  description: `The JOSE header names kid twice, the real one ${realLast ? 'last' : 'first'} (parsers disagree on which wins).`,
  expect: { reject: true, reason: 'bad-header' },
  build: (ctx) => {
    const decoy = JSON.stringify('ipstamp-attack-decoy');
    const real = JSON.stringify(ctx.kid);
    const [a, b] = realLast ? [decoy, real] : [real, decoy];
    const header = `{"alg":${JSON.stringify(ctx.alg)},"typ":"ipstamp+jwt","kid":${a},"kid":${b}}`;
    return ctx.http(ctx.sign(header, ctx.claims()));
  },
});

export const joseHeaderAttacks: readonly Attack[] = [
  {
    name: 'payload-altered',
    description: 'A real stamp whose payload was changed (ip, jti) without signing again.',
    expect: { reject: true, reason: 'bad-signature' },
    build: async (ctx) => {
      const stamp = await ctx.stamp();
      const claims = { ...ctx.tamper.payloadOf(stamp), ip: ctx.spoofedIp, jti: ctx.claims().jti };
      return ctx.http(ctx.tamper.withPayload(stamp, claims));
    },
  },
  algNone('none'),
  algNone('None'),
  algNone('NONE'),
  algNone('nOnE'),
  algConfusion('jwk'),
  algConfusion('pem'),
  algConfusion('raw'),
  {
    name: 'alg-swap-hmac',
    description: 'An HMAC key used under another HS alg than the one it is registered with.',
    expect: { reject: true, reason: 'bad-signature' },
    build: (ctx) => {
      if (!ctx.alg.startsWith('HS')) return { skip: `only HMAC keys can be re-used under another alg; the key is ${ctx.alg}` };
      const other = ctx.alg === 'HS256' ? 'HS512' : 'HS256';
      return ctx.http(ctx.sign(ctx.header({ alg: other }), ctx.claims(), { signAs: other }));
    },
  },
  {
    name: 'kid-unknown',
    description: 'A well-formed kid the target has never seen, signed with the real key.',
    expect: { reject: true, reason: 'unknown-key' },
    build: (ctx) => ctx.http(ctx.sign(ctx.header({ kid: `ipstamp-attack-unknown-${ctx.claims().jti.slice(0, 12)}` }), ctx.claims())),
  },
  hostileKid('path-traversal', 'a path (../../etc/passwd)', () => '../../etc/passwd'),
  hostileKid('oversized', '1000 characters long', () => 'k'.repeat(1000)),
  hostileKid('sql', "SQL (' OR '1'='1)", () => "' OR '1'='1"),
  hostileKid('unicode', 'the real kid in fullwidth Unicode (NFKC folds it back)', (ctx) => fullwidth(ctx.kid)),
  {
    name: 'typ-wrong',
    description: '"typ": "JWT" instead of "ipstamp+jwt": a token minted for something else.',
    expect: { reject: true, reason: 'bad-header' },
    build: (ctx) => ctx.http(ctx.sign(ctx.header({ typ: 'JWT' }), ctx.claims())),
  },
  {
    name: 'typ-missing',
    description: 'No "typ" member at all.',
    expect: { reject: true, reason: 'bad-header' },
    build: (ctx) => {
      const { typ: _typ, ...header } = ctx.header();
      return ctx.http(ctx.sign(header, ctx.claims()));
    },
  },
  forbiddenMember('crit', ['exp'], 'a token that dictates its own processing rules'),
  {
    name: 'header-jwk',
    description: 'An embedded "jwk": the attacker\'s own public key, the stamp signed with its private half.',
    expect: { reject: true, reason: 'bad-header' },
    build: (ctx) => ctx.http(ctx.sign(ctx.header({ jwk: ctx.attackerPublicJwk }), ctx.claims(), { attackerKey: true })),
  },
  forbiddenMember('jku', 'https://attacker.example/jwks.json', 'a URL to fetch keys from; keys are never taken from a token'),
  forbiddenMember('x5u', 'https://attacker.example/cert.pem', 'a URL to fetch a certificate from; keys are never taken from a token'),
  duplicateKid(true),
  duplicateKid(false),
];
