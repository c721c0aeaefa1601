import { createServer, type Server } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { createStamper } from '../../client/index.js';
import { createTicketRequestProof, type TicketKey } from '../../client/ticket-proof.js';
import type { ClientPublicJwk } from '../../shared/ticket-schema.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { runCli, scratchDir, startServe, type RunningServe } from '../support/cli-process.js';
import { listenOnFreePort } from '../support/ports.js';
import { signRaw } from '../support/sign-raw.js';
import { CRASH_TRACES, sendStamped, waitFor, type Answer } from './stamped-traffic.js';

/**
 * Issue 18, key rotation, against a real `ipstamp serve`: the key file is replaced and the
 * process told with SIGHUP while stamped traffic runs. Every answer is checked against what
 * the key set was when the request was sent and answered — the times come from the client,
 * around each signal and the line that confirms it — so the test proves order, not speed.
 */
const scratch = scratchDir();
let oldKey: TestKeyPair;
let newKey: TestKeyPair;

beforeAll(async () => {
  oldKey = await makeKey('ES256', 'client-2025');
  newKey = await makeKey('EdDSA', 'client-2026');
});
afterAll(() => scratch.cleanup());

const stampers = new Map<string, ReturnType<typeof createStamper>>();
function stamp(key: TestKeyPair, url: string): Promise<string> {
  let stamper = stampers.get(key.kid);
  if (stamper === undefined) stampers.set(key.kid, (stamper = createStamper({ key: key.privateJwk, ip: '127.0.0.1' })));
  return stamper.stamp({ method: 'GET', url });
}

/** A stamp whose kid is made up (signed by `key`, so only the kid is wrong). */
let made = 0;
function stampWithKid(key: TestKeyPair, kid: string, url: string): string {
  return signRaw(
    key.privateJwk,
    { alg: key.alg, typ: 'ipstamp+jwt', kid },
    { ip: '127.0.0.1', iat: Math.floor(Date.now() / 1000), jti: `made-up-${String(++made).padStart(16, '0')}`, htm: 'GET', htu: url },
  );
}

interface KeyedAnswer extends Answer {
  readonly kid: string;
}

/** Every `everyMs`, one fresh stamp by each key, fired without waiting; bounded by `maxMs`. */
function keyedTraffic(serve: RunningServe, keys: readonly TestKeyPair[], { everyMs = 40, maxMs = 60_000 } = {}) {
  const answers: KeyedAnswer[] = [];
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const loop = (async () => {
    const until = performance.now() + maxMs;
    for (let n = 0; !stopped && performance.now() < until; n++) {
      for (const key of keys) {
        const path = `/traffic/${key.kid}/${n}`;
        const request = stamp(key, `${serve.url}${path}`)
          .then((token) => sendStamped(serve, path, token))
          .then((answer) => void answers.push({ ...answer, kid: key.kid }));
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    answers,
    async stop(): Promise<KeyedAnswer[]> {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
      return answers;
    },
  };
}

const outcome = (a: Answer): string => (a.status === 200 ? 'accepted' : a.status === 0 ? `no answer: ${a.body}` : `${a.status} ${a.reason}`);

/** Sends SIGHUP and waits for the line that says how it went; returns the client times around both. */
async function hangUp(serve: RunningServe, line: string): Promise<{ sent: number; confirmed: number }> {
  const seen = serve.output().split(line).length - 1;
  const sent = performance.now();
  serve.signal('SIGHUP');
  await waitFor(`"${line}"`, () => serve.output().split(line).length - 1 > seen, 15_000);
  return { sent, confirmed: performance.now() };
}

describe('serve --keys FILE, rotated with SIGHUP under traffic', () => {
  it('adds the new key, refuses bad files keeping the old keys, removes the old key; no request refused for another reason; replays stay refused', async () => {
    const keysFile = scratch.file('rotating.json', { keys: [oldKey.publicJwk] });
    const serve = await startServe(['--port', '0', '--keys', keysFile]);
    const traffic = keyedTraffic(serve, [oldKey, newKey]);
    const answered = (kid: string, after: number) => traffic.answers.filter((a) => a.kid === kid && a.sentAt > after).length;
    try {
      expect(serve.startLine).toContain(`— 1 key from ${keysFile},`);
      await waitFor('traffic before the first reload', () => answered(oldKey.kid, 0) >= 5, 15_000);
      const usedBefore = await stamp(oldKey, `${serve.url}/used-before`);
      expect(outcome(await sendStamped(serve, '/used-before', usedBefore))).toBe('accepted');

      // 1: the new key joins; the old one stays (the overlap window)
      writeFileSync(keysFile, JSON.stringify({ keys: [oldKey.publicJwk, newKey.publicJwk] }));
      const added = await hangUp(serve, `ipstamp serve: SIGHUP: reloaded --keys ${keysFile}: 2 keys (added client-2026)`);
      await waitFor('traffic in the overlap', () => answered(newKey.kid, added.confirmed) >= 5, 15_000);
      expect(outcome(await sendStamped(serve, '/used-before', usedBefore))).toBe('401 replay');
      const usedInOverlap = await stamp(newKey, `${serve.url}/used-in-overlap`);
      expect(outcome(await sendStamped(serve, '/used-in-overlap', usedInOverlap))).toBe('accepted');

      // bad files on SIGHUP: one line on stderr each, the two keys stay in use
      const bad: [string, string][] = [
        ['{"keys": [', 'not a JSON object, or a member name is repeated'],
        [
          JSON.stringify({ keys: [newKey.publicJwk, { kty: 'oct', k: 'c2hvcnQ', kid: 'h', alg: 'HS256' }] }),
          'keys.keys[1]: HMAC secret must be at least 32 bytes',
        ],
        [JSON.stringify({ keys: [newKey.privateJwk] }), 'keys[0] (kid "client-2026") is a private key (it has "d"); the verifier needs only the public half'],
        [JSON.stringify({ keys: [] }), 'the JWK Set holds no keys'],
      ];
      let badStarted = 0;
      for (const [content, why] of bad) {
        writeFileSync(keysFile, content);
        const refused = await hangUp(serve, `ipstamp serve: SIGHUP: --keys ${keysFile}: ${why}; keeping the 2 keys in use`);
        badStarted ||= refused.sent;
        await waitFor(
          'traffic after a refused file',
          () => answered(oldKey.kid, refused.confirmed) >= 2 && answered(newKey.kid, refused.confirmed) >= 2,
          15_000,
        );
      }
      expect(answered(oldKey.kid, badStarted)).toBeGreaterThanOrEqual(8);
      // a refused file is a problem, told on stderr; a reload that passed is not one
      for (const [, why] of bad) expect(serve.stderr()).toContain(`ipstamp serve: SIGHUP: --keys ${keysFile}: ${why}; keeping the 2 keys in use\n`);
      expect(serve.stderr()).not.toContain('reloaded --keys');

      // 2: the old key leaves
      writeFileSync(keysFile, JSON.stringify({ keys: [newKey.publicJwk] }));
      const removed = await hangUp(serve, `ipstamp serve: SIGHUP: reloaded --keys ${keysFile}: 1 key (removed client-2025)`);
      await waitFor('traffic after the old key left', () => answered(oldKey.kid, removed.confirmed) >= 5, 15_000);
      expect(outcome(await sendStamped(serve, '/used-in-overlap', usedInOverlap))).toBe('401 replay');

      const answers = await traffic.stop();
      const unexpected = answers.filter((a) => {
        const result = outcome(a);
        if (result !== 'accepted' && result !== '401 unknown-key') return true; // nothing dropped, no other reason
        if (a.kid === oldKey.kid) {
          if (a.answeredAt < removed.sent) return result !== 'accepted';
          if (a.sentAt > removed.confirmed) return result !== '401 unknown-key';
          return false; // sent before, answered after the swap: either set may have answered
        }
        if (a.answeredAt < added.sent) return result !== '401 unknown-key';
        if (a.sentAt > added.confirmed) return result !== 'accepted';
        return false;
      });
      expect(unexpected.map((a) => `${a.kid} ${outcome(a)}`)).toEqual([]);
      // each phase really had traffic of both kinds
      expect(answers.filter((a) => a.kid === newKey.kid && a.answeredAt < added.sent).length).toBeGreaterThanOrEqual(5);
      expect(answers.filter((a) => a.kid === oldKey.kid && a.sentAt > removed.confirmed).length).toBeGreaterThanOrEqual(5);
      expect(serve.output()).not.toMatch(CRASH_TRACES);
    } finally {
      await traffic.stop();
      expect(await serve.stop()).toBe(0);
    }
  });

  it('gateway reloads its keys on SIGHUP too, and a file that cannot be read keeps the keys', async () => {
    const upstream: Server = createServer((req, res) => res.end(`upstream saw ${String(req.headers['x-attested-client-ip'])}`));
    const port = await listenOnFreePort(upstream);
    const keysFile = scratch.file('gateway.json', { keys: [oldKey.publicJwk] });
    const gateway = await startServe(['--port', '0', '--keys', keysFile, '--upstream', `http://127.0.0.1:${port}`], 'gateway');
    try {
      const send = async (key: TestKeyPair, path: string) => outcome(await sendStamped(gateway, path, await stamp(key, `${gateway.url}${path}`)));
      expect(await send(newKey, '/a')).toBe('401 unknown-key');
      writeFileSync(keysFile, JSON.stringify({ keys: [newKey.publicJwk] }));
      await hangUp(gateway, `ipstamp gateway: SIGHUP: reloaded --keys ${keysFile}: 1 key (added client-2026; removed client-2025)`);
      expect(await send(newKey, '/b')).toBe('accepted');
      expect(await send(oldKey, '/c')).toBe('401 unknown-key');
      rmSync(keysFile);
      await hangUp(gateway, `ipstamp gateway: SIGHUP: --keys ${keysFile}: cannot read the file (ENOENT); keeping the 1 key in use`);
      expect(gateway.stderr()).toContain(`ipstamp gateway: SIGHUP: --keys ${keysFile}: cannot read the file (ENOENT); keeping the 1 key in use\n`);
      expect(await send(newKey, '/d')).toBe('accepted');
    } finally {
      expect(await gateway.stop()).toBe(0);
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});

describe('serve --issuer-key FILE, rotated with SIGHUP', () => {
  it('publishes the next key, switches the signing key, retires the old one; a bad file keeps the keys', async () => {
    const issuerKey = async (kid: string) => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      return {
        privateJwk: { ...(await exportJWK(pair.privateKey)), kid, alg: 'ES256' },
        publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256' },
      };
    };
    const v1 = await issuerKey('edge-2025');
    const v2 = await issuerKey('edge-2026');
    const pair = await generateKeyPair('ES256', { extractable: true });
    const client: TicketKey = { privateKey: pair.privateKey, publicJwk: (await exportJWK(pair.publicKey)) as ClientPublicJwk, alg: 'ES256' };
    const keysFile = scratch.file('clients-for-issuer.json', { keys: [oldKey.publicJwk] });
    const issuerFile = scratch.file('issuer.json', v1.privateJwk);
    const serve = await startServe(['--port', '0', '--keys', keysFile, '--issuer-key', issuerFile]);
    const published = async () =>
      ((await (await fetch(`${serve.url}/.well-known/ipstamp/issuer-jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const signedBy = async () => {
      const url = `${serve.url}/.well-known/ipstamp/ticket`;
      const response = await fetch(url, { method: 'POST', headers: { 'client-ip-attestation': await createTicketRequestProof(client, url) } });
      const { ticket } = (await response.json()) as { ticket: string };
      return (JSON.parse(Buffer.from(ticket.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    };
    try {
      expect([await published(), await signedBy()]).toEqual([['edge-2025'], 'edge-2025']);
      writeFileSync(issuerFile, JSON.stringify({ keys: [v1.privateJwk, v2.publicJwk] }));
      await hangUp(serve, `ipstamp serve: SIGHUP: reloaded --issuer-key ${issuerFile}: signing with edge-2025, publishing edge-2025, edge-2026`);
      expect([await published(), await signedBy()]).toEqual([['edge-2025', 'edge-2026'], 'edge-2025']);
      writeFileSync(issuerFile, JSON.stringify({ keys: [v2.privateJwk, v1.publicJwk] }));
      await hangUp(serve, `ipstamp serve: SIGHUP: reloaded --issuer-key ${issuerFile}: signing with edge-2026, publishing edge-2026, edge-2025`);
      expect([await published(), await signedBy()]).toEqual([['edge-2026', 'edge-2025'], 'edge-2026']);
      writeFileSync(issuerFile, JSON.stringify({ keys: [v1.publicJwk, v2.privateJwk] }));
      await hangUp(
        serve,
        `ipstamp serve: SIGHUP: --issuer-key ${issuerFile}: holds a JWK Set (2 keys) whose first key is not private, where one private ES256/EdDSA JWK belongs (the issuer's signing key), or a JWK Set with it first; keeping the keys in use (signing with edge-2026, publishing edge-2026, edge-2025)`,
      );
      expect([await published(), await signedBy()]).toEqual([['edge-2026', 'edge-2025'], 'edge-2026']);
      expect(serve.stderr()).toMatch(
        /^ipstamp serve: SIGHUP: --issuer-key \S+: holds a JWK Set \(2 keys\) whose first key is not private.*; keeping the keys in use/m,
      );
      expect(serve.stderr()).not.toContain('reloaded --issuer-key');
      writeFileSync(issuerFile, JSON.stringify(v2.privateJwk));
      await hangUp(serve, `ipstamp serve: SIGHUP: reloaded --issuer-key ${issuerFile}: signing with edge-2026, publishing edge-2026`);
      expect([await published(), await signedBy()]).toEqual([['edge-2026'], 'edge-2026']);
      // the client keys were read again each time too, and said so
      expect(serve.output().split(`reloaded --keys ${keysFile}: 1 key (no change)`).length - 1).toBe(4);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });
});

describe('serve --keys-url URL', () => {
  let jwksServer: Server;
  let fetches = 0;
  let answer: { status: number; body: string } = { status: 200, body: '{"keys":[]}' };
  let jwksUrl = '';
  beforeAll(async () => {
    jwksServer = createServer((_req, res) => {
      fetches++;
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    jwksUrl = `http://127.0.0.1:${await listenOnFreePort(jwksServer)}/keys.json`;
  });
  afterAll(async () => {
    jwksServer.closeAllConnections();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  it('fetches at start, holds a flood of unknown kids off the source, fetches again on SIGHUP, keeps the keys when the source fails', async () => {
    answer = { status: 200, body: JSON.stringify({ keys: [oldKey.publicJwk] }) };
    fetches = 0;
    const serve = await startServe(['--port', '0', '--keys-url', jwksUrl]);
    try {
      expect(serve.startLine).toContain(`— 1 key from ${jwksUrl},`);
      expect(fetches).toBe(1);
      const send = async (key: TestKeyPair, path: string) => outcome(await sendStamped(serve, path, await stamp(key, `${serve.url}${path}`)));
      expect(await send(oldKey, '/a')).toBe('accepted');

      const flood = await Promise.all(
        Array.from({ length: 150 }, (_, i) => sendStamped(serve, `/flood/${i}`, stampWithKid(oldKey, `random-${i}`, `${serve.url}/flood/${i}`))),
      );
      expect(new Set(flood.map(outcome))).toEqual(new Set(['401 unknown-key']));
      expect(fetches).toBe(1);

      answer = { status: 200, body: JSON.stringify({ keys: [newKey.publicJwk] }) };
      await hangUp(serve, `ipstamp serve: SIGHUP: fetched --keys-url ${jwksUrl}: 1 key (added client-2026; removed client-2025)`);
      // the SIGHUP line says it all: the change is not told a second time
      expect(
        serve
          .output()
          .split('\n')
          .filter((line) => line.includes('added client-2026')),
      ).toHaveLength(1);
      expect(fetches).toBe(2);
      expect(await send(newKey, '/b')).toBe('accepted');
      expect(await send(oldKey, '/c')).toBe('401 unknown-key');

      answer = { status: 500, body: '' };
      await hangUp(serve, `ipstamp serve: SIGHUP: --keys-url ${jwksUrl}: not a 200 answer; keeping the 1 key in use`);
      // one line, on stderr
      expect(
        serve
          .output()
          .split('\n')
          .filter((line) => line.includes('not a 200 answer')),
      ).toEqual([`ipstamp serve: SIGHUP: --keys-url ${jwksUrl}: not a 200 answer; keeping the 1 key in use`]);
      expect(serve.stderr()).toContain(`ipstamp serve: SIGHUP: --keys-url ${jwksUrl}: not a 200 answer; keeping the 1 key in use\n`);
      expect(serve.stderr()).not.toContain('fetched --keys-url');
      expect(await send(newKey, '/d')).toBe('accepted');
      expect(serve.output()).not.toMatch(CRASH_TRACES);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it('a source that cannot be fetched at start stops the start (exit 1, one line)', async () => {
    answer = { status: 404, body: '' };
    const result = await runCli(['serve', '--port', '0', '--keys-url', jwksUrl]);
    expect([result.code, result.stderr]).toEqual([1, `ipstamp serve: cannot start: ERR_IPSTAMP_KEYS_FETCH ${jwksUrl}: not a 200 answer\n`]);
  });

  it.each([
    [['--keys-url', 'http://jwks.example.com/keys.json'], 'ipstamp serve: --keys-url must be an https URL (http only to a loopback address)\n'],
    [['--keys-url', 'https://jwks.example.com/k', '--keys', 'keys.json'], 'ipstamp serve: --keys and --keys-url: give one of them\n'],
  ])('%j is a usage error (exit 2)', async (args, stderr) => {
    const result = await runCli(['serve', '--port', '0', ...args]);
    expect([result.code, result.stderr]).toEqual([2, stderr]);
  });
});
