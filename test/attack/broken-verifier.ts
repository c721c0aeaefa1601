import { type Verifier } from '../../server/verify/verifier.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import type { VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput } from '../../server/verify/types.js';
import type { ReplayStore } from '../../server/stores/replay-store.js';
import { MapReplayStore } from '../support/map-store.js';
import { signRaw } from '../support/sign-raw.js';
import type { TestKeyPair } from '../support/keys.js';
import { startVerifierServer, type TestVerifierServer } from './verifier-server.js';

/**
 * TEST ONLY, never shipped: a verifier with one hole opened on purpose, each the mistake a
 * real deployment makes. It is the real core with one option loosened, or with a thin
 * wrapper that skips one step, so the harness is checked against exactly that mistake.
 */
export const HOLES = [
  'no-replay-check',
  'leftmost-xff',
  'alg-none',
  'no-freshness',
  'no-binding',
  'proxy-from-anyone',
  'ignore-ip-disagreement',
  'racy-replay-check',
] as const;
export type Hole = (typeof HOLES)[number];

/** A trusted load balancer address nobody in these tests connects from. */
const LOAD_BALANCER = '127.0.0.9';

interface Lenient {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  token: string;
}

/** Decodes a stamp the careless way (JSON.parse, no checks): what the holes below act on. */
function decodeLeniently(input: VerifyInput): Lenient | undefined {
  const raw = input.headers['client-ip-attestation'];
  if (typeof raw !== 'string') return undefined;
  const [h, p] = raw.split('.');
  try {
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as Record<string, unknown>;
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
    return { header, payload, token: raw };
  } catch {
    return undefined;
  }
}

function withStamp(input: VerifyInput, token: string): VerifyInput {
  return { ...input, headers: { ...input.headers, 'client-ip-attestation': token } };
}

const acceptEverything: ReplayStore = { insertIfAbsent: () => true };

/** Check, then (after a round trip to "the database") insert: two copies in flight both pass the check. */
class RacyReplayStore implements ReplayStore {
  readonly #seen = new Set<string>();
  async insertIfAbsent(key: string): Promise<boolean> {
    const seen = this.#seen.has(key);
    await new Promise((resolve) => setTimeout(resolve, 60));
    if (seen) return false;
    this.#seen.add(key);
    return true;
  }
}

export function brokenVerify(hole: Hole, key: TestKeyPair): (input: VerifyInput) => ReturnType<Verifier['verify']> {
  const base: VerifierOptions = { keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), trustedProxies: [LOAD_BALANCER] };
  const core = (extra: Partial<VerifierOptions> = {}): Verifier => createVerifierCore({ ...base, ...extra });
  const strict = core();
  switch (hole) {
    case 'no-replay-check':
      return core({ replayStore: acceptEverything }).verify;
    case 'racy-replay-check':
      return core({ replayStore: new RacyReplayStore() }).verify;
    case 'ignore-ip-disagreement':
      return core({ onMismatch: 'flag' }).verify;
    case 'leftmost-xff':
      // `req.headers['x-forwarded-for'].split(',')[0]` taken as the peer, from anyone
      return (input) => {
        const xff = input.headers['x-forwarded-for'];
        const leftmost = typeof xff === 'string' ? xff.split(',')[0]!.trim() : undefined;
        return strict.verify(leftmost ? { ...input, hints: { l3: leftmost } } : input);
      };
    case 'proxy-from-anyone':
      // the PROXY header's source taken as the peer, whoever sent it
      return (input) => strict.verify(input.hints.l4 ? { ...input, hints: { l3: input.hints.l4 } } : input);
    case 'alg-none':
      // "a token that says it needs no signature is fine": re-signed, then checked as usual
      return (input) => {
        const stamp = decodeLeniently(input);
        if (String(stamp?.header.alg).toLowerCase() !== 'none') return strict.verify(input);
        const payloadSegment = stamp!.token.split('.')[1] ?? '';
        const resigned = signRaw(key.privateJwk, { ...stamp!.header, alg: key.alg }, Buffer.from(payloadSegment, 'base64url'));
        return strict.verify(withStamp(input, resigned));
      };
    case 'no-freshness':
      // a clock that always agrees with the stamp; the replay store is still shared
      return (input) => {
        const iat = Number(decodeLeniently(input)?.payload.iat);
        if (!Number.isFinite(iat)) return strict.verify(input);
        return core({ now: () => iat * 1000, replayStore: base.replayStore }).verify(input);
      };
    case 'no-binding':
      // the request taken to be whatever the stamp says it is
      return (input) => {
        const { htm, htu } = decodeLeniently(input)?.payload ?? {};
        if (typeof htm !== 'string' || typeof htu !== 'string') return strict.verify(input);
        let url: URL;
        try {
          url = new URL(htu);
        } catch {
          return strict.verify(input);
        }
        const protocol = url.protocol === 'https:' ? 'https' : 'http';
        return strict.verify({ ...input, method: htm, url: url.pathname, protocol, headers: { ...input.headers, host: url.host } });
      };
  }
}

/** The broken verifier on loopback, behind the real PROXY connection layer (honouring only the LB, except for the proxy hole). */
export function startBrokenVerifier(hole: Hole, key: TestKeyPair): Promise<TestVerifierServer> {
  return startVerifierServer({
    verify: brokenVerify(hole, key),
    proxyPeers: hole === 'proxy-from-anyone' ? ['0.0.0.0/0', '::/0'] : [LOAD_BALANCER],
  });
}

/** The same server with no hole: the real core, strict defaults (https when given a certificate). */
export function startGoodVerifier(key: TestKeyPair, tls?: { key: string; cert: string }): Promise<TestVerifierServer> {
  return startVerifierServer({
    verify: createVerifierCore({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), trustedProxies: [LOAD_BALANCER] }).verify,
    proxyPeers: [LOAD_BALANCER],
    ...(tls ? { tls } : {}),
  });
}
