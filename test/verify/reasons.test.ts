import { beforeAll, describe, expect, it } from 'vitest';
import { type Verifier } from '../../server/verify/verifier.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { REASONS, type Reason } from '../../shared/reasons.js';
import { IpStampError } from '../../shared/errors.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';

const NOW = 1_764_000_000_000; // a fixed clock: no test here sleeps
const iat = NOW / 1000;
const CLIENT = '192.0.2.7';

let es: TestKeyPair;
let hs: TestKeyPair;
let other: TestKeyPair;

beforeAll(async () => {
  es = await makeKey('ES256', 'client-es');
  hs = await makeKey('HS256', 'client-hs');
  other = await makeKey('ES256', 'client-es'); // same kid, different key: a forger's
});

const claims = (over: Record<string, unknown> = {}) => ({
  ip: CLIENT,
  iat,
  jti: 'AAAAAAAAAAAAAAAAAAAAAA',
  htm: 'GET',
  htu: 'http://api.example.com/orders',
  ...over,
});
const header = (over: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'ipstamp+jwt', kid: 'client-es', ...over });

function makeVerifier(over: Partial<VerifierOptions> = {}): Verifier {
  return createVerifierCore({
    keys: { keys: [es.publicJwk, { ...hs.publicJwk, allowed_ips: ['198.51.100.0/24'] }] },
    replayStore: new MapReplayStore(),
    now: () => NOW,
    ...over,
  });
}

function input(token: string | string[] | undefined, over: Partial<VerifyInput> = {}): VerifyInput {
  const headers: Record<string, string | string[]> = { host: 'api.example.com' };
  if (token !== undefined) headers['client-ip-attestation'] = token;
  return { method: 'GET', url: '/orders', headers, hints: { l3: CLIENT }, ...over };
}

const reasonOf = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);

/** One case per reason code of PROTOCOL §5 and §7. */
const CASES: Record<Exclude<Reason, 'bad-ticket'>, () => Promise<VerifyResult>> = {
  missing: () => makeVerifier().verify(input(undefined)),
  malformed: () => makeVerifier().verify(input('not-a-jws')),
  'bad-header': () => makeVerifier().verify(input(signRaw(es.privateJwk, header({ typ: 'JWT' }), claims()))),
  'unknown-key': () => makeVerifier().verify(input(signRaw(es.privateJwk, header({ kid: 'nobody' }), claims()))),
  'bad-signature': () => makeVerifier().verify(input(signRaw(other.privateJwk, header(), claims()))),
  'bad-claims': () => makeVerifier().verify(input(signRaw(es.privateJwk, header(), claims({ ip: '::ffff:192.0.2.7' })))),
  'not-yet-valid': () => makeVerifier().verify(input(signRaw(es.privateJwk, header(), claims({ iat: iat + 6 })))),
  expired: () => makeVerifier().verify(input(signRaw(es.privateJwk, header(), claims({ iat: iat - 36 })))),
  'binding-mismatch': () => makeVerifier().verify(input(signRaw(es.privateJwk, header(), claims({ htm: 'POST' })))),
  replay: async () => {
    const v = makeVerifier();
    const token = signRaw(es.privateJwk, header(), claims());
    expect(reasonOf(await v.verify(input(token)))).toBe('accepted');
    return v.verify(input(token));
  },
  'ip-not-allowed': () => makeVerifier().verify(input(signRaw(hs.privateJwk, header({ alg: 'HS256', kid: 'client-hs' }), claims()))),
  'ip-mismatch': () => makeVerifier().verify(input(signRaw(es.privateJwk, header(), claims({ ip: '203.0.113.9' })))),
  'ip-unverifiable': () => makeVerifier({ trustedProxies: ['192.0.2.0/24'] }).verify(input(signRaw(es.privateJwk, header(), claims()))),
  'store-unavailable': () => {
    const broken: ReplayStore = { insertIfAbsent: () => Promise.reject(new Error('connection refused')) };
    return makeVerifier({ replayStore: broken }).verify(input(signRaw(es.privateJwk, header(), claims())));
  },
};

describe('every reason code of PROTOCOL §5 is produced, with its status', () => {
  const statusOf: Record<string, number> = { 'ip-not-allowed': 403, 'ip-mismatch': 403, 'ip-unverifiable': 403, 'store-unavailable': 503 };
  for (const [reason, run] of Object.entries(CASES)) {
    it(reason, async () => {
      const result = await run();
      expect(reasonOf(result)).toBe(reason);
      if (result.ok) return;
      expect(result.status).toBe(statusOf[reason] ?? 401);
      expect(result.error.code).toBe(`ERR_IPSTAMP_${reason.toUpperCase().replace(/-/g, '_')}`);
      expect(result.error.message).not.toContain('eyJ'); // never echoes a token
      // a refusal's error is an IpStampError built without a stack trace (shared/errors.ts)
      expect(result.error).toBeInstanceOf(IpStampError);
      expect(result.error.stack).not.toMatch(/\n\s+at /);
    });
  }

  it('covers every reason but bad-ticket (tested with tickets)', () => {
    expect(new Set([...Object.keys(CASES), 'bad-ticket'])).toEqual(new Set(REASONS));
  });

  it('a valid stamp passes the same verifier', async () => {
    expect(reasonOf(await makeVerifier().verify(input(signRaw(es.privateJwk, header(), claims()))))).toBe('accepted');
  });
});
