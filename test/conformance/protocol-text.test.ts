import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStamper } from '../../client/index.js';
import { SERVE_FLAG_TABLE } from '../../server/cli/serve-flags.js';
import { createProxyProtocolServer, type ProxyRejectEvent } from '../../server/hints/proxy-connection.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { VERIFIER_OPTION_NAMES, type VerifierOptions } from '../../server/verify/options.js';
import type { VerifyInput, VerifyResult } from '../../server/verify/types.js';
import { createWebVerifier } from '../../server/web/index.js';
import { REASON_STATUS, REASONS } from '../../shared/reasons.js';
import { makeKey } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { listenOnFreePort } from '../support/ports.js';
import { signRaw } from '../support/sign-raw.js';

/**
 * docs/protocol.md read statement by statement against the code:
 * the statements the vectors and the area tests left unasserted. Each block names its section.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const doc = readFileSync(join(root, 'docs/protocol.md'), 'utf8');

const NOW = 1_767_225_600_000;
const iat = NOW / 1000;
const secret = { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'hs', alg: 'HS256' };
const fenced = { ...secret, kid: 'fenced', allowed_ips: ['198.51.100.0/24'] };
const jti = () => randomBytes(16).toString('base64url');
const claims = (over: Record<string, unknown> = {}) => ({ ip: '203.0.113.7', iat, jti: jti(), htm: 'GET', htu: 'https://api.example.com/orders', ...over });
const stampOf = (over: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: Record<string, unknown> = secret) =>
  signRaw(key, { alg: 'HS256', typ: 'ipstamp+jwt', kid: key.kid, ...header }, claims(over), 'HS256');

/** A store that counts what it was asked to remember: a step before 10 must never reach it. */
function countingStore(seen: string[] = []) {
  const store = new MapReplayStore();
  return {
    inserts: () => store.seen.size,
    insertIfAbsent: (key: string, ttlMs: number) => (seen.includes(key.split(' ')[1]!) ? false : store.insertIfAbsent(key, ttlMs)),
  };
}

function verify(token: string, input: Partial<VerifyInput> = {}, options: Partial<VerifierOptions> = {}) {
  const verifier = createVerifierCore({ keys: { keys: [secret, fenced] }, replayStore: new MapReplayStore(), now: () => NOW, ...options });
  return verifier.verify({
    method: 'GET',
    url: '/orders',
    protocol: 'https',
    headers: { host: 'api.example.com', 'client-ip-attestation': token },
    hints: { l3: '203.0.113.7' },
    ...input,
  });
}
const reason = (r: VerifyResult) => (r.ok ? 'accepted' : r.reason);

describe('§4.2, §4.4: a PROXY source that is no address is an invalid entry, not an absent l4', () => {
  // l3 is an L4 proxy (HAProxy in TCP mode): it writes no HTTP header, so every forwarding
  // header on the request is the client's. §4.2 lists the headers that give no l4 hint (LOCAL,
  // UNKNOWN, UNSPEC, UNIX); any other source is an l4 hint, and §4.4 makes one that is not an
  // address an invalid entry. The immediate peer (§4.3) is then that entry — never l3.
  const CLIENT_CLAIMS = '192.0.2.66';
  const trusted = { trustedProxies: ['10.0.0.0/8'] };

  async function setup(options: { onUnverifiable?: 'accept' | 'reject' } = {}) {
    const key = await makeKey('ES256', 'web');
    const verifier = createWebVerifier({ keys: { keys: [key.publicJwk] }, replayStore: new MapReplayStore(), ...trusted, ...options });
    const stamper = createStamper({ key: key.privateJwk, ip: CLIENT_CLAIMS });
    const request = async () =>
      new Request('https://api.example.com/orders', {
        headers: { 'client-ip-attestation': await stamper.stamp({ method: 'GET', url: 'https://api.example.com/orders' }), 'x-forwarded-for': CLIENT_CLAIMS },
      });
    return { verifier, request };
  }

  it.each(['0.0.0.0', '::', '::ffff:0.0.0.0', 'unknown', '', '010.0.0.1'])(
    'l4 %j from a trusted l3: the X-Forwarded-For the client wrote is not read',
    async (l4) => {
      const { verifier, request } = await setup();
      expect(reason(await verifier.verify(await request(), { l3: '10.0.0.1', l4 }))).toBe('ip-unverifiable');
    },
  );

  it('with onUnverifiable accept the verdict says so: no l4, no l7, no observed address', async () => {
    const { verifier, request } = await setup({ onUnverifiable: 'accept' });
    const r = await verifier.verify(await request(), { l3: '10.0.0.1', l4: 'unknown' });
    expect(r.ok && r.verdict).toMatchObject({ agreement: 'unverifiable', hints: { l3: '10.0.0.1', l4: undefined, l7: [], observed: undefined } });
  });

  it('controls: an l4 that is a trusted proxy passes the header on; no l4 at all leaves l3 the immediate peer', async () => {
    const { verifier, request } = await setup();
    const viaTrustedL4 = await verifier.verify(await request(), { l3: '10.0.0.1', l4: '10.0.0.9' });
    expect(viaTrustedL4.ok && viaTrustedL4.verdict).toMatchObject({ agreement: 'match', hints: { l4: '10.0.0.9', observed: CLIENT_CLAIMS } });
    const noL4 = await verifier.verify(await request(), { l3: '10.0.0.1' });
    expect(noL4.ok && noL4.verdict).toMatchObject({ agreement: 'match', hints: { observed: CLIENT_CLAIMS } });
  });

  it('§5.1 (3): the protocol header is not read for it either', () => {
    const verifier = createVerifierCore({ keys: { keys: [secret] }, replayStore: new MapReplayStore(), ...trusted });
    const input = { headers: { 'x-forwarded-proto': 'https' }, protocol: 'http' as const };
    expect(verifier.scheme({ ...input, hints: { l3: '10.0.0.1', l4: 'unknown' } })).toEqual({ scheme: 'http', from: 'connection' });
    expect(verifier.scheme({ ...input, hints: { l3: '10.0.0.1', l4: '10.0.0.9' } })).toEqual({ scheme: 'https', from: 'proto-header' });
    expect(verifier.scheme({ ...input, hints: { l3: '10.0.0.1' } })).toEqual({ scheme: 'https', from: 'proto-header' });
  });
});

describe('§4.2: a PROXY header must arrive complete within 5 s by default', () => {
  afterEach(() => vi.useRealTimers());

  it('a trusted peer that sends part of one is closed at 5,000 ms, not a millisecond before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const rejects: ProxyRejectEvent[] = [];
    const server = createProxyProtocolServer(() => {}, { trustedProxies: ['127.0.0.1'], onReject: (event) => rejects.push(event) });
    const port = await listenOnFreePort(server, '127.0.0.1');
    // the layer's 'connection' listener runs first: when ours runs, its deadline is set
    const vetted = new Promise<void>((resolve) => server.on('connection', () => resolve()));
    const socket: Socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    try {
      socket.write('PROXY TCP4 192.0');
      await vetted;
      vi.advanceTimersByTime(4999);
      expect(rejects).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(rejects.map((r) => r.reason)).toEqual(['timeout']);
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('§5: the first failure wins — the step pairs no vector pins', () => {
  it('3 before 4: a bad header naming an unknown kid is bad-header', async () => {
    expect(reason(await verify(stampOf({}, { typ: 'JWT', kid: 'nobody' })))).toBe('bad-header');
  });

  it('3½ before 4: an unreadable ticket beside a stamp whose kid is no key is bad-ticket', async () => {
    const issuers = { 'https://edge.example.com': { keys: [] } };
    const headers = { host: 'api.example.com', 'client-ip-attestation': stampOf({}, { kid: 'nobody' }), 'client-ip-ticket': 'a.b.c' };
    expect(reason(await verify('', { headers }, { issuers }))).toBe('bad-ticket');
  });

  it('6 before 7 and 8: claims that break §2.2 are bad-claims whatever their time', async () => {
    expect(reason(await verify(stampOf({ obs: 'guess', iat: iat + 60 })))).toBe('bad-claims');
    expect(reason(await verify(stampOf({ obs: 'guess', iat: iat - 600 })))).toBe('bad-claims');
  });

  it('8 before 9: an expired stamp bound to another request is expired', async () => {
    expect(reason(await verify(stampOf({ iat: iat - 36, htm: 'POST' })))).toBe('expired');
  });

  it('9 before 10: a replayed jti bound to another request is binding-mismatch, and nothing is remembered', async () => {
    const replayed = jti();
    const store = countingStore([replayed]);
    expect(reason(await verify(stampOf({ jti: replayed, htu: 'https://api.example.com/other' }), {}, { replayStore: store }))).toBe('binding-mismatch');
    expect(store.inserts()).toBe(0);
    expect(reason(await verify(stampOf({ jti: replayed }), {}, { replayStore: store }))).toBe('replay');
  });

  it('the store row before 11: an outage answers store-unavailable for an ip outside allowed_ips; with onStoreError accept, 11 answers', async () => {
    const down = { insertIfAbsent: () => Promise.reject(new Error('connection refused')) };
    const outside = stampOf({}, {}, fenced);
    expect(reason(await verify(outside, {}, { replayStore: down }))).toBe('store-unavailable');
    expect(reason(await verify(stampOf({}, {}, fenced), {}, { replayStore: down, onStoreError: 'accept' }))).toBe('ip-not-allowed');
  });

  it('11 before 12′: an ip outside allowed_ips from an unknown l3 is ip-not-allowed', async () => {
    expect(reason(await verify(stampOf({}, {}, fenced), { hints: { l3: undefined } }))).toBe('ip-not-allowed');
    expect(reason(await verify(stampOf(), { hints: { l3: undefined } }))).toBe('ip-unverifiable');
  });
});

describe('docs/protocol.md against itself and the code', () => {
  it('§5 step table: every reason once, each with the status §5.3 and the code give it', () => {
    const table = doc.slice(doc.indexOf('| # | check | reason | HTTP |'), doc.indexOf('Defaults: `maxAge`'));
    const rows = [...table.matchAll(/^\| [^|]+ \| [^|]+ \| `([a-z-]+)` \| (\d{3}) \|$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows.map(([r]) => r).sort()).toEqual([...REASONS].sort());
    for (const [r, status] of rows) expect(status, r as string).toBe(REASON_STATUS[r as keyof typeof REASON_STATUS]);
  });

  it('Appendix: every option is one the library takes, and every flag in brackets is the serve flag for it', () => {
    const appendix = doc.slice(doc.indexOf('## Appendix: option names'));
    const rows = [...appendix.matchAll(/^\| `([A-Za-z]+)` \|.*\|(.*)\|$/gm)].map((m) => ({ option: m[1]!, flag: /\[`--([a-z-]+)/.exec(m[2]!)?.[1] }));
    expect(rows).toHaveLength(12);
    for (const { option, flag } of rows) {
      expect(Object.keys(VERIFIER_OPTION_NAMES), option).toContain(option);
      if (flag !== undefined) expect(SERVE_FLAG_TABLE.find((f) => f.name === flag)?.option, `--${flag}`).toBe(option);
    }
  });
});
