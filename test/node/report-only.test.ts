import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { context } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { generateStampKey } from '../../client/browser-key.js';
import { createStamper } from '../../client/index.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import {
  ipstamp,
  trackPeerAddresses,
  type IpStampMiddleware,
  type IpStampMiddlewareOptions,
  type IpStampNodeMiddleware,
  type Verdict,
} from '../../server/node/index.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { MapReplayStore } from '../support/map-store.js';
import { reportedSequence } from '../support/report-only.js';
import { AsyncLocalContextManager, inMemorySdk } from '../support/otel.js';
import { acceptWebSocket, rawWebSocketHandshake } from '../support/raw-websocket-handshake.js';

/**
 * `ipstamp({ reportOnly: true })` on node:http: every refusal is counted, and the request (or
 * upgrade handshake) goes on unstamped, the reason in `req.ipStampRefusal`.
 */
const { attributes: ATTR, metrics: METRIC } = TELEMETRY_NAMES;
const PEER = '127.0.0.1';

let key: TestKeyPair;
let forger: TestKeyPair;
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalContextManager());
  key = await makeKey('ES256', 'node-report');
  forger = await makeKey('ES256', 'node-report');
});
afterAll(() => {
  context.disable();
});

const servers: Server[] = [];
const upgraded: Duplex[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const socket of upgraded.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

/** What the handler saw, for each request: the verdict's address (or null) and the refusal. */
interface Seen {
  ip: string | null;
  refusal: unknown;
}

/**
 * A server running `chain` in order before its handler; the handler answers what it saw.
 * Upgrades go through `stamp.upgrade`, then a 101 and one "hello" frame.
 */
async function serve(stamp: IpStampNodeMiddleware, chain: IpStampMiddleware[] = [stamp], checks = [stamp.upgrade]) {
  const upgrades: Seen[] = [];
  const server = trackPeerAddresses(
    createServer((req, res) => {
      const run = (i: number): void => {
        if (i === chain.length) return void res.end(JSON.stringify({ ip: req.ipStamp?.ip ?? null, refusal: req.ipStampRefusal }));
        chain[i]!(req, res, (error?: unknown) => (error === undefined ? run(i + 1) : res.writeHead(500).end()));
      };
      run(0);
    }),
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    upgraded.push(socket);
    const checked = checks.reduce<Promise<Verdict | null | undefined>>(
      (before, check) => before.then((outcome) => (outcome === undefined ? undefined : check(req, socket))),
      Promise.resolve(null),
    );
    void checked.then((outcome) => {
      if (outcome === undefined) return;
      upgrades.push({ ip: outcome?.ip ?? null, refusal: req.ipStampRefusal });
      acceptWebSocket(req, socket);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, PEER, done));
  const origin = `http://${PEER}:${(server.address() as AddressInfo).port}`;
  const get = async (token: string | undefined, path = '/orders'): Promise<{ status: number; seen: Seen }> => {
    const response = await fetch(`${origin}${path}`, token === undefined ? {} : { headers: { 'client-ip-attestation': token } });
    return { status: response.status, seen: (await response.json()) as Seen };
  };
  return { origin, get, upgrades };
}

const stampFor = (signer: TestKeyPair, url: string, ip = PEER) => createStamper({ key: signer.privateJwk, ip }).stamp({ method: 'GET', url });

function middleware(options: Partial<IpStampMiddlewareOptions>): IpStampNodeMiddleware {
  return ipstamp({ keys: { keys: [key.publicJwk] }, ...options });
}

describe('ipstamp/node with reportOnly: true', () => {
  it('a forged, a replayed, a mismatching and a missing stamp reach the handler unstamped, each with its reason; counted under it', async () => {
    const sdk = inMemorySdk();
    const store = new MapReplayStore();
    const stamp = middleware({
      reportOnly: true,
      replayStore: store,
      telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }),
    });
    const { origin, get } = await serve(stamp);
    const url = `${origin}/orders`;
    const good = await stampFor(key, url);
    const outcomes = [
      await get(good),
      await get(await stampFor(forger, url)),
      await get(good),
      await get(await stampFor(key, url, '203.0.113.9')),
      await get(undefined),
    ];
    const expected = reportedSequence(PEER);
    expect(outcomes.map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);
    expect(outcomes.map((o) => [o.seen.ip, o.seen.refusal])).toEqual(expected.seen);
    // the replay was not stored again; the accepted and the mismatching stamp each consumed their jti
    expect(store.seen.size).toBe(2);
    const requests = await sdk.points(METRIC.requests);
    expect(requests.map((p) => [p.attributes[ATTR.outcome], p.attributes[ATTR.reason] ?? null, p.value]).sort()).toEqual(expected.requestPoints);
    await sdk.shutdown();
  });

  it('app-wide stamp.optional, then stamp on the route: a refused stamp is reported once, under its own reason, never as a replay', async () => {
    const sdk = inMemorySdk();
    const stamp = middleware({ reportOnly: true, telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }) });
    const { origin, get } = await serve(stamp, [stamp.optional, stamp]);
    const lying = await get(await stampFor(key, `${origin}/orders`, '203.0.113.9'));
    expect([lying.status, lying.seen]).toEqual([200, { ip: null, refusal: 'ip-mismatch' }]);
    const requests = await sdk.points(METRIC.requests);
    expect(requests.map((p) => [p.attributes[ATTR.reason], p.value])).toEqual([['ip-mismatch', 1]]);
    await sdk.shutdown();
  });

  it("behind it, another ipstamp() call's strict middleware still refuses the stamp it let through, with a store of its own or the same", async () => {
    for (const [shared, expected] of [
      [false, [403, 'ip-mismatch']],
      // the report-only check consumed the jti (step 10 comes before the address checks)
      [true, [401, 'replay']],
    ] as const) {
      const replayStore = new MapReplayStore();
      const reporting = middleware({ reportOnly: true, required: false, replayStore });
      const enforcing = middleware(shared ? { replayStore } : {});
      const { origin } = await serve(reporting, [reporting, enforcing]);
      const lying = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': await stampFor(key, `${origin}/orders`, '203.0.113.9') } });
      expect([lying.status, ((await lying.json()) as { reason: string }).reason]).toEqual(expected);
    }
  });

  it("behind it, another ipstamp() call that accepts the stamp leaves its verdict alone, without the first call's refusal", async () => {
    const other = await makeKey('ES256', 'node-report-other');
    // the first call does not know the key: unknown-key, reported; the second does, and accepts
    const reporting = ipstamp({ keys: { keys: [other.publicJwk] }, reportOnly: true });
    const enforcing = middleware({});
    const { origin, get } = await serve(reporting, [reporting, enforcing]);
    const good = await get(await stampFor(key, `${origin}/orders`));
    expect([good.status, good.seen]).toEqual([200, { ip: PEER, refusal: null }]);
  });

  it('stamp.upgrade: a refused handshake goes on (null, the reason kept); a good one gets its verdict', async () => {
    const stamp = middleware({ reportOnly: true });
    const { origin, upgrades } = await serve(stamp);
    const port = new URL(origin).port;
    const handshake = async (ip?: string) => {
      const headers: Record<string, string> = ip === undefined ? {} : { 'client-ip-attestation': await stampFor(key, `http://127.0.0.1:${port}/live`, ip) };
      return (await rawWebSocketHandshake(`http://127.0.0.1:${port}/live`, headers, { until: 'hello' })).statusLine;
    };
    expect([await handshake('127.0.0.2'), await handshake('198.51.100.7'), await handshake()]).toEqual(Array(3).fill('HTTP/1.1 101 Switching Protocols'));
    expect(upgrades).toEqual([
      { ip: '127.0.0.2', refusal: null },
      { ip: null, refusal: 'ip-mismatch' },
      { ip: null, refusal: 'missing' },
    ]);
  });

  it('stamp.optional.upgrade, then stamp.upgrade on the same handshake: its refusal is reported once, never as a replay', async () => {
    const stamp = middleware({ reportOnly: true });
    const { origin, upgrades } = await serve(stamp, [stamp], [stamp.optional.upgrade, stamp.upgrade]);
    const url = `http://127.0.0.1:${new URL(origin).port}/live`;
    const answer = await rawWebSocketHandshake(url, { 'client-ip-attestation': await stampFor(key, url, '198.51.100.7') }, { until: 'hello' });
    expect(answer.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(upgrades).toEqual([{ ip: null, refusal: 'ip-mismatch' }]);
  });

  it("stamp.upgrade of another call that accepts a handshake a report-only call refused: its verdict, without the first call's refusal", async () => {
    const other = await makeKey('ES256', 'node-report-upgrade-other');
    // the first call does not know the key (unknown-key, reported); the second does
    const reporting = ipstamp({ keys: { keys: [other.publicJwk] }, reportOnly: true });
    const enforcing = middleware({});
    const { origin, upgrades } = await serve(reporting, [reporting], [reporting.upgrade, enforcing.upgrade]);
    const url = `http://127.0.0.1:${new URL(origin).port}/live`;
    const answer = await rawWebSocketHandshake(url, { 'client-ip-attestation': await stampFor(key, url, '127.0.0.2') }, { until: 'hello' });
    expect(answer.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(upgrades).toEqual([{ ip: '127.0.0.2', refusal: null }]);
  });

  it('says so once at creation, as the loosened-policies process warning; not without the option', () => {
    const warnings: unknown[][] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void warnings.push(args));
    middleware({});
    middleware({ reportOnly: false });
    expect(warnings).toEqual([]);
    const stamp = middleware({ reportOnly: true });
    expect(stamp.optional).not.toBe(stamp);
    expect(warnings).toEqual([
      [
        "ipstamp: LOOSENED policies: reportOnly is 'true': every refused stamp is let through as unstamped (ipStamp null, the reason in ipStampRefusal)",
        { code: 'IPSTAMP_LOOSENED_POLICIES' },
      ],
    ]);
  });

  it('does not touch the ticket route: a replayed proof is refused, and no ticket is issued', async () => {
    const issuer = await generateKeyPair('EdDSA', { extractable: true });
    const issuerKey = { ...(await exportJWK(issuer.privateKey)), kid: 'edge-1', alg: 'EdDSA' };
    const { origin } = await serve(middleware({ reportOnly: true, issuer: { key: issuerKey } }));
    const url = `${origin}/.well-known/ipstamp/ticket`;
    const proof = await createTicketRequestProof(await generateStampKey({ alg: 'ES256' }), url);
    const ask = async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'client-ip-attestation': proof } });
      return [response.status, (await response.json()) as { reason?: string; ticket?: string }] as const;
    };
    expect((await ask())[0]).toBe(200);
    const [status, again] = await ask();
    expect([status, again.reason, again.ticket]).toEqual([401, 'replay', undefined]);
  });

  it('reportOnly must be a boolean', () => {
    expect(() => middleware({ reportOnly: 'yes' as never })).toThrow(new TypeError('reportOnly must be a boolean'));
  });
});

describe('ipstamp/node without reportOnly', () => {
  it('refuses as before, and leaves ipStampRefusal unset', async () => {
    const { origin, get } = await serve(middleware({ required: false }));
    const lying = await fetch(`${origin}/orders`, { headers: { 'client-ip-attestation': await stampFor(key, `${origin}/orders`, '203.0.113.9') } });
    expect([lying.status, ((await lying.json()) as { reason: string }).reason]).toEqual([403, 'ip-mismatch']);
    // JSON drops undefined: the handler saw no refusal member at all
    expect((await get(undefined)).seen).toEqual({ ip: null });
  });
});
